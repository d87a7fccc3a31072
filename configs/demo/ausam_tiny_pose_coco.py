# A small top-down pose model trained with AUSAM on the 12 COCO person instances shipped in
# tests/data/coco, in under a minute on a laptop CPU: 2 epochs, the first one the full-SAM
# warm-up that scores every sample, the second one SAM on the AUSAM-drawn half of each batch;
# then a COCO keypoint evaluation on the same instances and a checkpoint in the work dir.
# Run from the repository root:
#   python tools/train.py configs/demo/ausam_tiny_pose_coco.py
# Everything AUSAM needs is written out (what `--ausam` adds to any MMPose config): the
# optimizer wrapper, the batch sampler, the index-carrying dataset and the per-sample loss.
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)

data_root = 'tests/data/coco/'
codec = dict(type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=2)

# a thin 2-stage ResNet-18 (stride 8, 32 channels) and one deconvolution to the stride-4 heatmap
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16, num_stages=2,
                  strides=(1, 2), dilations=(1, 1), out_indices=(1, ), init_cfg=None),
    head=dict(
        type='HeatmapHead', in_channels=32, out_channels=17, deconv_out_channels=(32, ),
        deconv_kernel_sizes=(4, ),
        loss=dict(type='PerSampleLoss',  # one value per sample, same mean as MMPose's loss
                  loss=dict(type='KeypointMSELoss', use_target_weight=True)),
        decoder=codec),
    test_cfg=dict(flip_test=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
coco = dict(type='CocoDataset', data_root=data_root, data_mode='topdown',
            ann_file='test_coco.json', data_prefix=dict(img=''))

train_dataloader = dict(
    batch_size=4,  # the candidate batch; AUSAM trains on 2 of each 4 after the warm-up
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5, f_min=0.1, f_max=0.5,
                       ramp_epochs=1, warmup_epochs=1),
    dataset=dict(type='IndexedDataset', dataset=dict(coco, pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=12, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(coco, test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator

optim_wrapper = dict(type='AUSAMOptimWrapper', optimizer=dict(type='Adam', lr=1e-3), rho=0.05)
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=2)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1, save_best=None))
randomness = dict(seed=0)
