# CIFAR-100 ResNet-18 with AUSAM: wrapper, sampler, IndexedDataset, per-sample loss.
_base_ = ['./resnet18_cifar100_sgd.py']
optim_wrapper = dict(type='AUSAMOptimWrapper', rho=0.1)
custom_hooks = [dict(type='AUSAMHook')]  # links the sampler and the wrapper
train_dataloader = dict(
    batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5),  # AUSAM's defaults otherwise
    dataset=dict(_delete_=True, type='IndexedDataset',
                 dataset={{_base_.train_dataloader.dataset}}))
model = dict(head=dict(loss=dict(reduction='none')))
