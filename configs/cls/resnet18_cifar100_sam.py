# CIFAR-100 ResNet-18 with SAM: only the optimizer wrapper changes (rho 0.1, SAM's CIFAR-100 value).
_base_ = ['./resnet18_cifar100_sgd.py']
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.1)
