# CIFAR-10 ResNet-18 QAT W2A4 with SAM (the quantizers' scales are trained, not perturbed).
_base_ = ['./resnet18_cifar10_w2a4_sgd.py']
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
