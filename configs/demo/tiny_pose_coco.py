# `make demo` (python -m benchmarks.demo) trains this small top-down pose model three ways, with
# --no-validate: as it is (Adam), with SAM and with AUSAM (`tools/train.py THIS --sam rho=0.01` /
# `--ausam ratio=0.5 rho=0.01`; ausam_tiny_pose_coco.py is the AUSAM form written out). It trains
# on the 12 COCO person instances the repository ships in tests/data/coco, and its own
# evaluation scores the same instances: it shows the mechanism (the model learns, what each
# optimizer costs), it measures no generalisation (configs/lsp/ does). Run from the
# repository root:
#   python tools/train.py configs/demo/tiny_pose_coco.py
_base_ = ['mmpose::_base_/default_runtime.py']

data_root = 'tests/data/coco/'
codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)

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
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=False))

# flips only (MMPose's recipes also shift, scale, rotate and cut to half bodies): with 12
# instances the model is to learn them within a minute, not to generalise
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
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
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(coco, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=12, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(coco, test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-3))
param_scheduler = []
epochs = 90  # 3 iterations each; evaluated and saved once, at the end
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=3),  # once an epoch
    checkpoint=dict(type='CheckpointHook', interval=epochs, save_best=None))
randomness = dict(seed=0)
