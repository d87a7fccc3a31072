# RTMPose-s COCO 256x192 with AUSAM: the wrapper, the batch sampler, the index-carrying dataset
# and the per-sample head loss change; everything else is rtmpose-s_coco-256x192_adamw.py.
# The stage-2 PipelineSwitchHook assigns the wrapped dataset's pipeline through
# IndexedDataset, so indices keep flowing after the switch.
_base_ = ['./rtmpose-s_coco-256x192_adamw.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='AUSAMOptimWrapper', rho=0.05)
custom_hooks = _base_.custom_hooks + [dict(type='AUSAMHook')]  # links sampler and wrapper
train_dataloader = dict(
    batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5),  # AUSAM's defaults otherwise
    dataset=dict(_delete_=True, type='IndexedDataset',
                 dataset={{_base_.train_dataloader.dataset}}))
model = dict(head=dict(loss=dict(_delete_=True, type='PerSampleLoss',
                                 loss={{_base_.model.head.loss}},
                                 batch_size={{_base_.train_dataloader.batch_size}})))
