# CIFAR-100 ResNet-18 QAT W4A4 with AUSAM: configs/cls/resnet18_cifar100_ausam.py with its model
# quantized as in resnet18_cifar100_w4a4_sgd.py; what `--ausam` makes of that one.
_base_ = ['../cls/resnet18_cifar100_ausam.py']
model = dict(_delete_=True, type='BrevitasQATModel', model={{_base_.model}},
             weight_bit_width=4, act_bit_width=4, first_last_bit_width=8, quantizer='lsq')
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    '.scaling_impl.value': dict(decay_mult=0., sam_perturb=False)}))
