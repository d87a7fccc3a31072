# CIFAR-10 ResNet-18, QAT W4A4 (first/last layer W8A8), SGD: configs/cls/resnet18_cifar10_sgd.py
# with its model quantized by Brevitas (learned step sizes). Fine-tune from a full-precision
# checkpoint with `load_from=...` (the scales initialise from the loaded weights) or train from
# scratch as is.
_base_ = ['../cls/resnet18_cifar10_sgd.py']
model = dict(_delete_=True, type='BrevitasQATModel', model={{_base_.model}},
             weight_bit_width=4, act_bit_width=4, first_last_bit_width=8, quantizer='lsq')
# the quantizers' learned scales: trained without weight decay, and not perturbed by SAM/AUSAM
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    '.scaling_impl.value': dict(decay_mult=0., sam_perturb=False)}))
