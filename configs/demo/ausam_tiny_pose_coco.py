# configs/demo/tiny_pose_coco.py with AUSAM written out: what `tools/train.py
# configs/demo/tiny_pose_coco.py --ausam ratio=0.5 rho=0.01` writes (tested), i.e. what `--ausam`
# adds to any MMPose config: the optimizer wrapper, the batch sampler, AUSAMHook (the link between
# them), the index-carrying dataset and the per-sample loss. 1 warm-up epoch of full SAM scores every sample, then SAM runs on the
# AUSAM-drawn half of each batch of 4. Run from the repository root:
#   python tools/train.py configs/demo/ausam_tiny_pose_coco.py
_base_ = ['./tiny_pose_coco.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)

model = dict(head=dict(loss=dict(  # one value per sample, same mean as MMPose's loss
    _delete_=True, type='PerSampleLoss',
    loss=dict(type='KeypointMSELoss', use_target_weight=True), batch_size=4)))
custom_hooks = _base_.custom_hooks + [dict(type='AUSAMHook')]  # links sampler and wrapper
train_dataloader = dict(
    batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5),
    dataset=dict(_delete_=True, type='IndexedDataset',
                 dataset={{_base_.train_dataloader.dataset}}))
optim_wrapper = dict(type='AUSAMOptimWrapper', rho=0.01)
