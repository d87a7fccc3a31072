# CIFAR-100 ResNet-18, full precision, SGD: resnet18_cifar10_sgd.py on mmpretrain's CIFAR100
# (data/cifar100/cifar-100-python) with its normalisation.
_base_ = ['./resnet18_cifar10_sgd.py']
data_preprocessor = dict(num_classes=100, mean=[129.304, 124.070, 112.434],
                         std=[68.170, 65.392, 70.418])
model = dict(head=dict(num_classes=100))
train_dataloader = dict(dataset=dict(type='CIFAR100', data_root='data/cifar100'))
val_dataloader = dict(dataset=dict(type='CIFAR100', data_root='data/cifar100'))
test_dataloader = val_dataloader
