# CIFAR-10 ResNet-18 with SAM: only the optimizer wrapper changes (same SGD inside; rho 0.1,
# the reference recipe's).
_base_ = ['./resnet18_cifar10_sgd.py']
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.1)
