# CIFAR-100 ResNet-18, QAT W2A4 (weights ternary {-1, 0, 1} x scale; first/last layer W8A8), SGD.
_base_ = ['./resnet18_cifar100_w4a4_sgd.py']
model = dict(weight_bit_width=2)
