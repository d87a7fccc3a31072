# CIFAR-10 ResNet-18 (mmpretrain ResNet_CIFAR), full precision, SGD: the base of the cls family.
# The reference recipe of AUSAM (docs/ausam.md, "Defaults of the reference recipe"): label
# smoothing 0.1, crop/flip, Cutout with probability 0.5, SGD lr 0.1 m 0.9 wd 1e-3, cosine LR
# stepped per iteration, batch 256, 200 epochs.
# Data: data/cifar10/cifar-10-batches-py (mmpretrain's CIFAR10 reads the original batches).
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)

model = dict(head=dict(loss=dict(_delete_=True, type='LabelSmoothLoss', label_smooth_val=0.1,
                                 mode='original', loss_weight=1.0)))

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Cutout', shape=16, pad_val=(125, 123, 114), prob=0.5),  # mean colour
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=256, num_workers=4, persistent_workers=True,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=256, num_workers=4, persistent_workers=True)
test_dataloader = val_dataloader

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-3))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=200, T_max=200,
                        convert_to_iter_based=True)]  # stepped every iteration
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=5)
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=10, max_keep_ckpts=2, save_best='auto'))
