# CIFAR-100 ResNet-18, QAT W4A4 (first/last layer W8A8), SGD: configs/cls/resnet18_cifar100_sgd.py
# with its model quantized by Brevitas (learned step sizes), as resnet18_cifar10_w4a4_sgd.py.
_base_ = ['../cls/resnet18_cifar100_sgd.py']
model = dict(_delete_=True, type='BrevitasQATModel', model={{_base_.model}},
             weight_bit_width=4, act_bit_width=4, first_last_bit_width=8, quantizer='lsq')
# the quantizers' learned scales: trained without weight decay, and not perturbed by SAM/AUSAM
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    '.scaling_impl.value': dict(decay_mult=0., sam_perturb=False)}))
