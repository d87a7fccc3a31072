# CIFAR-10 ResNet-18 QAT W4A4 with AUSAM: wrapper, sampler, IndexedDataset, per-sample loss.
_base_ = ['./resnet18_cifar10_w4a4_sgd.py']
optim_wrapper = dict(type='AUSAMOptimWrapper', rho=0.05)
custom_hooks = [dict(type='AUSAMHook')]  # links the sampler and the wrapper
train_dataloader = dict(
    batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5, f_min=0.1, f_max=0.5,
                       ramp_epochs=30, warmup_epochs=1),
    dataset=dict(_delete_=True, type='IndexedDataset',
                 dataset={{_base_.train_dataloader.dataset}}))
model = dict(model=dict(head=dict(loss=dict(reduction='none'))))
