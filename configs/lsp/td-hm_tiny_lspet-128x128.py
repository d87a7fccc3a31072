# The model of the LSPET pose study (python -m benchmarks.pose_study, docs/benchmarks.md): a
# thin ResNet-18 (3 stages of 16, 32, 64 channels, stride 16) and two deconvolutions to a
# 32x32 heatmap of the 14 LSP joints, sized for a CPU. LSPET (Johnson and Everingham, CVPR
# 2011: cite it with results) in MMPose's layout: data/lspet/joints.mat, data/lspet/images/.
# The study sets the split (`indices`), the epochs and the seed. From the repository root:
#   python tools/train.py configs/lsp/td-hm_tiny_lspet-128x128.py [--ausam ratio=0.5 rho=...]
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)

codec = dict(type='MSRAHeatmap', input_size=(128, 128), heatmap_size=(32, 32), sigma=1.5)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16, num_stages=3,
                  strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2, ), init_cfg=None),
    head=dict(type='HeatmapHead', in_channels=64, out_channels=14,
              deconv_out_channels=(32, 32), deconv_kernel_sizes=(4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0, scale_factor=(0.8, 1.2), rotate_factor=30),
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
lsp = dict(type='LSPDataset', data_root='data/lspet/', data_mode='topdown')
train_dataloader = dict(
    batch_size=32, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(lsp, indices=3000, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(lsp, indices=list(range(3000, 4000)), test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='TorsoPCKAccuracy', thr=(0.2, 0.1))
test_evaluator = val_evaluator

epochs = 20
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True,
                        convert_to_iter_based=True)]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
default_hooks = dict(logger=dict(type='LoggerHook', interval=20),
                     checkpoint=dict(type='CheckpointHook', interval=epochs, save_best=None))
randomness = dict(seed=0)
