# CIFAR-10 ResNet-18 QAT W2A4 with AUSAM: resnet18_cifar10_w4a4_ausam.py with ternary weights,
# as resnet18_cifar10_w2a4_sgd.py is resnet18_cifar10_w4a4_sgd.py with them.
_base_ = ['./resnet18_cifar10_w4a4_ausam.py']
model = dict(weight_bit_width=2)
