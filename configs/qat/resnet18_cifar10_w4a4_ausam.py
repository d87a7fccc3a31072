# CIFAR-10 ResNet-18 QAT W4A4 with AUSAM: configs/cls/resnet18_cifar10_ausam.py with its model
# quantized as in resnet18_cifar10_w4a4_sgd.py, and rho 0.05 (this family's); what `--ausam`
# makes of resnet18_cifar10_w4a4_sgd.py.
_base_ = ['../cls/resnet18_cifar10_ausam.py']
model = dict(_delete_=True, type='BrevitasQATModel', model={{_base_.model}},
             weight_bit_width=4, act_bit_width=4, first_last_bit_width=8, quantizer='lsq')
optim_wrapper = dict(rho=0.05, paramwise_cfg=dict(custom_keys={
    '.scaling_impl.value': dict(decay_mult=0., sam_perturb=False)}))
