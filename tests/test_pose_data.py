"""Real MMPose samples for the pose tests, and sample indices through MMPose's datasets.

Helpers (used by the other test_pose_* files): the COCO / MPII samples of tests/data through
MMPose's own top-down pipeline and codecs, and tiny top-down models. Tests: ``IndexedDataset``
over ``CombinedDataset`` gives each sample its global index, and RTMPose's
``PipelineSwitchHook`` (mmdet's, assigns ``dataset.pipeline``) switches the wrapped dataset's
pipeline while the indices keep flowing to the AUSAM wrapper.
"""
import copy
import os.path as osp
import uuid

from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpose.registry import DATASETS

from ausam_mm.engine import IndexedDataset
from ausam_mm.engine.indexed_dataset import INDEX_KEY

DATA = osp.join(osp.dirname(__file__), 'data')
INPUT = (64, 64)  # (w, h): a ResNet's stride-32 map is 2x2, the stride-4 heatmap 16x16
COCO = dict(type='CocoDataset', data_root=osp.join(DATA, 'coco'), data_mode='topdown',
            ann_file='test_coco.json', data_prefix=dict(img=''))  # 12 person instances
MPII = dict(type='MpiiDataset', data_root=osp.join(DATA, 'mpii'), data_mode='topdown',
            ann_file='test_mpii.json', data_prefix=dict(img=''))  # 5 person instances
MPII_TO_COCO = [(0, 16), (1, 14), (2, 12), (3, 11), (4, 13), (5, 15), (10, 10), (11, 8),
                (12, 6), (13, 5), (14, 7), (15, 9)]  # MMPose's body8 configs
HEATMAP = dict(type='MSRAHeatmap', input_size=INPUT, heatmap_size=(16, 16), sigma=2)


def pipeline(codec, extra=()):
    """MMPose's top-down train pipeline, deterministic (no random augmentation)."""
    return [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'), *extra,
            dict(type='TopdownAffine', input_size=codec['input_size']),
            dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]


def backbone(out_index=3, depth=18, channels=8):
    """A real mmpose ResNet, thin: stride 4 * 2**out_index, ``channels * 2**out_index`` out."""
    return dict(type='ResNet', depth=depth, stem_channels=channels, base_channels=channels,
                num_stages=out_index + 1, out_indices=(out_index, ),
                strides=(1, 2, 2, 2)[:out_index + 1], dilations=(1, ) * (out_index + 1),
                init_cfg=None)


def estimator(head, out_index=3):
    """A TopdownPoseEstimator config: ``backbone(out_index)`` + ``head``."""
    return dict(type='TopdownPoseEstimator',
                data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28,
                                       103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
                backbone=backbone(out_index), head=head)


def build(registry, cfg):
    with DefaultScope.overwrite_default_scope('mmpose'):
        return registry.build(copy.deepcopy(cfg))


_PACKED = {}


def pose_batch(dataset, codec):
    """All samples of ``dataset`` (COCO or MPII) packed by MMPose's pipeline with ``codec``."""
    cfg = dict(dataset, pipeline=pipeline(codec))
    if repr(cfg) not in _PACKED:
        built = build(DATASETS, cfg)
        _PACKED[repr(cfg)] = [built[i] for i in range(len(built))]
    items = _PACKED[repr(cfg)]
    return dict(inputs=[it['inputs'] for it in items],
                data_samples=[copy.deepcopy(it['data_samples']) for it in items])


def combined(pipe):
    """COCO + MPII (converted to COCO's 17 keypoints) as one MMPose ``CombinedDataset``."""
    return dict(type='CombinedDataset', metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
                datasets=[dict(COCO, pipeline=[]),
                          dict(MPII, pipeline=[dict(type='KeypointConverter', num_keypoints=17,
                                                    mapping=MPII_TO_COCO)])],
                pipeline=pipe)


def runner_cfg(work_dir, model, dataset, optim='AUSAMOptimWrapper', batch_size=8, epochs=2,
               **kwargs):
    """A complete MMPose Runner config (default_scope='mmpose') with ausam_mm's wrappers."""
    loader = dict(batch_size=batch_size, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=True),
                  dataset=dict(type='IndexedDataset', dataset=dataset))
    if 'AUSAM' in optim:
        loader['batch_sampler'] = dict(type='AUSAMBatchSampler', ratio=0.5, warmup_epochs=1,
                                       ramp_epochs=1)
        kwargs['custom_hooks'] = kwargs.get('custom_hooks', []) + [dict(type='AUSAMHook')]
    cfg = dict(
        default_scope='mmpose', model=model, work_dir=str(work_dir),
        experiment_name=f'pose_{uuid.uuid4().hex[:8]}', train_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=dict(type=optim, optimizer=dict(type='Adam', lr=1e-3), rho=0.05),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0), env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING')
    cfg.update(kwargs)
    return Config(cfg)


def test_indexed_combined_dataset_gives_global_indices():
    pipe = pipeline(HEATMAP)
    inner = build(DATASETS, combined(pipe))
    dataset = IndexedDataset(inner)
    assert len(dataset) == 12 + 5 == sum(inner.lens)
    for i in (0, 11, 12, 16):  # both ends of both subsets
        sample = dataset[i]['data_samples']
        assert sample.metainfo[INDEX_KEY] == i
        assert sample.img_path == inner.get_data_info(i)['img_path']
        assert sample.gt_instance_labels.keypoint_weights.shape == (1, 17)  # converted
    assert 'mpii' in dataset[12]['data_samples'].img_path


def test_pipeline_switch_hook_switches_the_wrapped_pipeline_and_indices_flow(tmp_path):
    stage2 = pipeline(HEATMAP, extra=[dict(type='RandomBBoxTransform', shift_prob=0,
                                           rotate_prob=0, scale_prob=0)])
    head = dict(type='HeatmapHead', in_channels=64, out_channels=17,
                deconv_out_channels=(8, 8, 8), deconv_kernel_sizes=(4, 4, 4),
                loss=dict(type='PerSampleLoss',
                          loss=dict(type='KeypointMSELoss', use_target_weight=True)))
    cfg = runner_cfg(tmp_path, estimator(head), combined(pipeline(HEATMAP)), epochs=2,
                     custom_hooks=[dict(type='mmdet.PipelineSwitchHook', switch_epoch=1,
                                        switch_pipeline=stage2)])
    runner = Runner(**cfg.to_dict())  # a Runner without cfg: no config text to format
    runner.train()
    wrapper = runner.train_dataloader.dataset
    assert isinstance(wrapper, IndexedDataset) and 'pipeline' not in vars(wrapper)
    switched = [type(t).__name__ for t in wrapper.dataset.pipeline.transforms]
    assert 'RandomBBoxTransform' in switched and isinstance(wrapper.pipeline, Compose)
    history = runner.optim_wrapper.history
    # epoch 0 (warm-up) scored all 17 samples once; epoch 1 ran on the switched pipeline and
    # posted its subsets (a batch without indices would have raised)
    assert history.coverage == 1.0 and int(history.count.sum()) == 17 + 4 + 4 + 1


def test_indexed_dataset_passes_on_the_pipeline_of_a_dataloader_rebuild():
    """MMPose's YOLOXPoseModeSwitchHook (RTMO, YOLOX-Pose) rebuilds the train dataloader with
    ``train_dataloader.dataset.pipeline = <stage 2>``: under ``--ausam`` that key belongs to
    ``IndexedDataset``, which hands it to the wrapped dataset."""
    stage2 = pipeline(HEATMAP, extra=[dict(type='RandomBBoxTransform', shift_prob=0,
                                           rotate_prob=0, scale_prob=0)])
    coco = dict(COCO, pipeline=pipeline(HEATMAP))
    for dataset in (coco, build(DATASETS, coco)):  # a config, or a built dataset
        wrapped = build(DATASETS, dict(type='IndexedDataset', dataset=dataset, pipeline=stage2))
        names = [type(t).__name__ for t in wrapped.dataset.pipeline.transforms]
        assert 'RandomBBoxTransform' in names
        assert wrapped[3]['data_samples'].metainfo[INDEX_KEY] == 3
