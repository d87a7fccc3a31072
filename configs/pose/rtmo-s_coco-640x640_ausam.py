# RTMO-s COCO 640x640 with AUSAM: the wrapper, the batch sampler, AUSAMHook, the index-carrying
# dataset and the per-image head (PerImageRTMOHead: RTMOHead with every loss key one value per image, same
# options and parameters) change; everything else is rtmo-s_coco-640x640_adamw.py. The stage-2
# YOLOXPoseModeSwitchHook assigns the wrapped dataset's pipeline through IndexedDataset.
_base_ = ['./rtmo-s_coco-640x640_adamw.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='AUSAMOptimWrapper', rho=0.05)
custom_hooks = _base_.custom_hooks + [dict(type='AUSAMHook')]  # links sampler and wrapper
train_dataloader = dict(
    batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5),  # AUSAM's defaults otherwise
    dataset=dict(_delete_=True, type='IndexedDataset',
                 dataset={{_base_.train_dataloader.dataset}}))
model = dict(head=dict(type='PerImageRTMOHead'))
