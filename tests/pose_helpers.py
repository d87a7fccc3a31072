"""Real MMPose samples and tiny MMPose models for the test_pose_* files: the COCO / MPII
samples of tests/data through MMPose's own top-down pipeline and codecs, thin ResNet top-down
estimators, and a builder in MMPose's scope. (Their runner config: ``conftest.pose_runner_cfg``.)
"""
import copy
import os.path as osp

from mmengine.registry import DefaultScope
from mmpose.registry import DATASETS

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
