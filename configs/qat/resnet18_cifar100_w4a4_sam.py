# CIFAR-100 ResNet-18 QAT W4A4 with SAM (the quantizers' scales are trained, not perturbed).
_base_ = ['./resnet18_cifar100_w4a4_sgd.py']
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.1)
