"""Every MMPose family ``--ausam`` supports beyond the one-loss top-down heads, on real models.

For each family - MSPN (a loss per unit), RTMW, ``VisPredictHead``, DEKR (bottom-up, two loss
keys, a batch-count loss), YOLOX-Pose and RTMO (one-stage, per-image heads), DWPose
distillation, 3D lifting, InterNet - a tiny model is converted by ``to_ausam``, and on the
COCO samples of tests/data packed by MMPose's own pipelines and codecs (3D lifting and InterNet:
MMPose data samples with synthetic targets, no such data ships):

- every loss key of the converted model returns one value per sample (an instance for
  top-down, an image for bottom-up and one-stage models, a sequence for lifting) whose mean is
  the unconverted model's loss (same weights) to 1e-5;
- AUSAM trains the converted model 2 epochs in a real Runner and resumes from the epoch-1
  checkpoint to the same weights and score history.
"""
import copy
import uuid

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample

from ausam_mm.engine import resume_checkpoint_path
from ausam_mm.engine.convert import to_ausam
from conftest import pose_runner_cfg
from pose_helpers import COCO, HEATMAP, INPUT, build, estimator, pipeline

BOTTOMUP_COCO = dict(COCO, data_mode='bottomup')  # 4 images, 14 people (2 unlabelled)
MEAN_STD = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
COCO_META = 'configs/_base_/datasets/coco.py'
MSE = dict(type='KeypointMSELoss', use_target_weight=True)


def resnet(out_indices=(3, ), channels=8):
    """A thin mmpose ResNet-18 with several outputs (stride 4 * 2**i, 8 * 2**i channels)."""
    return dict(type='ResNet', depth=18, stem_channels=channels, base_channels=channels,
                out_indices=out_indices, init_cfg=None)


def bottomup(head, out_indices=(0, ), neck=None, size_divisor=32):
    return dict(type='BottomupPoseEstimator', backbone=resnet(out_indices), neck=neck, head=head,
                data_preprocessor=dict(type='PoseDataPreprocessor',
                                       pad_size_divisor=size_divisor, **MEAN_STD),
                test_cfg=dict(input_size=(64, 64)))


def bottomup_pipeline(codec, extra=(), **affine):
    """MMPose's bottom-up train pipeline without random augmentation, at 64x64."""
    return [dict(type='LoadImage'),
            dict(type='BottomupRandomAffine', input_size=(64, 64), shift_prob=0, scale_prob=0,
                 rotate_prob=0, **affine),
            *extra, dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]


# -- the families ------------------------------------------------------------------------------
MEGVII = [dict(type='MegviiHeatmap', input_size=INPUT, heatmap_size=(16, 16), kernel_size=k)
          for k in (11, 9, 7, 5)]
SPR = dict(type='SPR', input_size=(64, 64), heatmap_size=(16, 16), sigma=(4, 2),
           minimal_diagonal_length=32**0.5, generate_keypoint_heatmaps=True,
           decode_max_instances=30)
YOLOX_CODEC = dict(type='YOLOXPoseAnnotationProcessor', input_size=(64, 64), expand_bbox=True)
RTM_SIMCC = dict(type='SimCCLabel', input_size=INPUT, sigma=(1.2, 1.4), simcc_split_ratio=2.0,
                 normalize=False, use_dark=False)
GAU = dict(hidden_dims=16, s=8, expansion_factor=2, dropout_rate=0., drop_path=0.,
           act_fn='SiLU', use_rel_bias=False, pos_enc=False)
RTM_KL = dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True)
ONE_STAGE_LOSSES = dict(
    loss_cls=dict(type='VariFocalLoss', reduction='sum', use_target_weight=True),
    loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16, reduction='sum', loss_weight=5.0),
    loss_oks=dict(type='OKSLoss', reduction='none', metainfo=COCO_META, loss_weight=30.0),
    loss_vis=dict(type='BCELoss', use_target_weight=True, reduction='mean'),
    loss_bbox_aux=dict(type='L1Loss', reduction='sum'))
ASSIGNER = dict(type='SimOTAAssigner', dynamic_k_indicator='oks',
                oks_calculator=dict(type='PoseOKS', metainfo=COCO_META))
ONE_STAGE_AFFINE = dict(scale_type='long', pad_val=(114, 114, 114), bbox_keep_corner=False,
                        clip_border=True)  # RTMO's stage-2 settings
NECK = dict(type='YOLOXPAFPN', in_channels=[32, 64], out_channels=16, num_csp_blocks=1)


def mspn():
    head = dict(type='MSPNHead', out_shape=(16, 16), unit_channels=16, out_channels=17,
                num_stages=1, num_units=4, level_indices=[0, 1, 2, 3],
                loss=[MSE] * 3 + [dict(type='KeypointOHKMMSELoss', use_target_weight=True,
                                       topk=8)])
    model = dict(estimator(head), backbone=dict(type='MSPN', unit_channels=16, num_stages=1,
                                                num_units=4, num_blocks=[1, 1, 1, 1]))
    pipe = pipeline(MEGVII[0])
    pipe[-2] = dict(type='GenerateTarget', multilevel=True, encoder=MEGVII)
    return model, dict(COCO, pipeline=pipe)


def rtmw():
    head = dict(type='RTMWHead', in_channels=64, out_channels=17, input_size=INPUT,
                in_featuremap_size=(2, 2), simcc_split_ratio=2.0, final_layer_kernel_size=1,
                gau_cfg=GAU, loss=RTM_KL)
    return dict(estimator(head), backbone=resnet((2, 3))), dict(COCO, pipeline=pipeline(RTM_SIMCC))


def vis_predict():
    pose = dict(type='HeatmapHead', in_channels=64, out_channels=17,
                deconv_out_channels=(8, 8, 8), deconv_kernel_sizes=(4, 4, 4), loss=MSE)
    head = dict(type='VisPredictHead', pose_cfg=pose,
                loss=dict(type='BCELoss', use_target_weight=True, use_sigmoid=True))
    return estimator(head), dict(COCO, pipeline=pipeline(HEATMAP))


def combined_target():
    codec = dict(type='UDPHeatmap', input_size=INPUT, heatmap_size=(16, 16), sigma=2,
                 heatmap_type='combined')
    head = dict(type='HeatmapHead', in_channels=64, out_channels=3 * 17,
                deconv_out_channels=(8, 8, 8), deconv_kernel_sizes=(4, 4, 4),
                loss=dict(type='CombinedTargetMSELoss', use_target_weight=True))
    # MMPose's configs with this target do not compute acc_pose (its channels are 3 * K)
    return (dict(estimator(head), train_cfg=dict(compute_acc=False)),
            dict(COCO, pipeline=pipeline(codec)))


def dekr():
    head = dict(type='DEKRHead', in_channels=8, num_keypoints=17, num_heatmap_filters=8,
                num_displacement_filters_per_keypoint=2, decoder=SPR,
                displacement_loss=dict(type='SoftWeightSmoothL1Loss', use_target_weight=True,
                                       supervise_empty=False, beta=1 / 9, loss_weight=0.002))
    pipe = bottomup_pipeline(SPR)
    pipe.insert(-1, dict(type='BottomupGetHeatmapMask'))  # decodes the unlabelled people
    return bottomup(head), dict(BOTTOMUP_COCO, pipeline=pipe)


def yolox_pose():
    head = dict(
        type='YOLOXPoseHead', num_keypoints=17, featmap_strides=(16, 32),
        head_module_cfg=dict(num_classes=1, in_channels=16, feat_channels=16, widen_factor=1,
                             stacked_convs=1),
        prior_generator=dict(type='MlvlPointGenerator', centralize_points=True,
                             strides=[16, 32]),
        assigner=ASSIGNER, overlaps_power=0.5, use_aux_loss=True,
        loss_obj=dict(type='BCELoss', use_target_weight=True, reduction='sum'),
        **dict(ONE_STAGE_LOSSES, loss_cls=dict(type='BCELoss', reduction='sum')))
    pipe = bottomup_pipeline(YOLOX_CODEC, extra=[
        dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False)],
        **ONE_STAGE_AFFINE)
    return (bottomup(head, (2, 3), neck=NECK), dict(BOTTOMUP_COCO, pipeline=pipe))


def rtmo():
    head = dict(
        type='RTMOHead', num_keypoints=17, featmap_strides=(16, 32),
        head_module_cfg=dict(num_classes=1, in_channels=16, cls_feat_channels=16,
                             channels_per_group=4, pose_vec_channels=16, widen_factor=0.5,
                             stacked_convs=1),
        assigner=dict(ASSIGNER, use_keypoints_for_center=True),
        prior_generator=dict(type='MlvlPointGenerator', centralize_points=True,
                             strides=[16, 32]),
        dcc_cfg=dict(in_channels=16, feat_channels=16, num_bins=(24, 32), spe_channels=16,
                     gau_cfg=dict(s=16, expansion_factor=2, dropout_rate=0.0, drop_path=0.0,
                                  act_fn='SiLU', pos_enc='add')),
        overlaps_power=0.5, use_aux_loss=True,
        loss_mle=dict(type='MLECCLoss', use_target_weight=True), **ONE_STAGE_LOSSES)
    pipe = bottomup_pipeline(YOLOX_CODEC, extra=[
        dict(type='BottomupGetHeatmapMask', get_invalid=True),
        dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False)],
        **ONE_STAGE_AFFINE)
    return (bottomup(head, (2, 3), neck=NECK), dict(BOTTOMUP_COCO, pipeline=pipe))


def dwpose(tmp_path):
    """DWPoseDistiller with a tiny RTMPose student and teacher, written as config files."""
    def rtm(channels):
        head = dict(type='RTMCCHead', in_channels=8 * channels, out_channels=17,
                    input_size=INPUT, in_featuremap_size=(2, 2), simcc_split_ratio=2.0,
                    final_layer_kernel_size=1, gau_cfg=GAU, loss=RTM_KL, decoder=RTM_SIMCC)
        return dict(estimator(head), backbone=resnet((3, ), channels))

    files = {}
    for role, channels in (('student', 8), ('teacher', 16)):
        files[role] = str(tmp_path / f'{role}_{uuid.uuid4().hex[:6]}.py')
        Config(dict(model=rtm(channels))).dump(files[role])
    distill = [dict(methods=[dict(type='FeaLoss', name='loss_fea', use_this=True,
                                  student_channels=64, teacher_channels=128, alpha_fea=7e-5)]),
               dict(methods=[dict(type='KDLoss', name='loss_logit', use_this=True,
                                  weight=0.1)])]
    model = dict(type='DWPoseDistiller', teacher_cfg=files['teacher'],
                 student_cfg=files['student'], distill_cfg=distill,
                 data_preprocessor=dict(type='PoseDataPreprocessor', **MEAN_STD))
    return model, dict(COCO, pipeline=pipeline(RTM_SIMCC))


FAMILIES = {'MSPNHead': mspn, 'RTMWHead': rtmw, 'VisPredictHead': vis_predict,
            'CombinedTargetMSELoss': combined_target, 'DEKRHead': dekr,
            'YOLOXPoseHead': yolox_pose, 'RTMOHead': rtmo, 'DWPoseDistiller': dwpose}
#: the loss keys each family must return on these samples (all of them: positives exist)
LOSS_KEYS = {
    'VisPredictHead': {'loss_vis', 'loss_kpt'}, 'DEKRHead': {'loss/heatmap', 'loss/displacement'},
    'YOLOXPoseHead': {'loss_obj', 'loss_cls', 'loss_bbox', 'loss_bbox_aux', 'loss_kpt',
                      'loss_vis'},
    'RTMOHead': {'loss_cls', 'loss_bbox', 'loss_bbox_aux', 'loss_oks', 'loss_vis', 'loss_mle'},
    'DWPoseDistiller': {'loss_kpt', 'loss_fea', 'loss_logit'}}


def family(name, tmp_path):
    return FAMILIES[name](tmp_path) if name == 'DWPoseDistiller' else FAMILIES[name]()


def convert(model, batch_size):
    """``to_ausam`` on a complete config around ``model``; returns the converted model config."""
    cfg = Config(dict(model=copy.deepcopy(model), optim_wrapper=dict(
        optimizer=dict(type='Adam', lr=1e-3)), train_dataloader=dict(
            batch_size=batch_size, dataset=dict(type='CocoDataset'))))
    changes = to_ausam(cfg)
    assert any('PerSample' in c or 'PerImage' in c for c in changes), changes
    return cfg.model.to_dict()


def build_model(cfg):
    """Built from a ConfigDict, as from a config file (DWPoseDistiller reads attributes)."""
    return build(MODELS, ConfigDict(cfg))


def samples_of(dataset):
    built = build(DATASETS, dataset)
    return pseudo_collate([built[i] for i in range(len(built))])


def with_seed(fn, *args):
    torch.manual_seed(1)
    return fn(*args)


@pytest.mark.parametrize('name', list(FAMILIES))
def test_every_loss_key_is_per_sample_with_the_mean_of_the_model_loss(name, tmp_path):
    model_cfg, dataset = family(name, tmp_path)
    data = samples_of(dataset)
    batch = len(data['inputs'])
    torch.manual_seed(0)
    # train mode: RTMO predicts its proxy poses only while training; both models see the
    # same batch, so batch statistics are the same in both
    ours = build_model(convert(model_cfg, batch)).train()
    theirs = build_model(model_cfg).train()
    theirs.load_state_dict(ours.state_dict())  # same names: checkpoints load either way
    packed = ours.data_preprocessor(copy.deepcopy(data), training=True)
    if name == 'DWPoseDistiller':  # its losses decay with the epoch (MessageHub's info)
        from mmengine.logging import MessageHub
        hub = MessageHub.get_current_instance()
        hub.update_info('epoch', 1)
        hub.update_info('max_epochs', 4)
    mine = with_seed(ours.loss, packed['inputs'], copy.deepcopy(packed['data_samples']))
    reference = with_seed(theirs.loss, packed['inputs'], copy.deepcopy(packed['data_samples']))
    keys = [k for k in reference if 'loss' in k]
    assert set(keys) == {k for k in mine if 'loss' in k} == LOSS_KEYS.get(name, {'loss_kpt'})
    for key in keys:
        assert mine[key].shape == (batch, ), key
        expected = reference[key].mean()  # what MMEngine's parse_losses logs and optimises
        torch.testing.assert_close(mine[key].mean(), expected, rtol=1e-5, atol=1e-6,
                                   msg=lambda m: f'{name} {key}: {m}')
        assert torch.isfinite(mine[key]).all()


@pytest.mark.parametrize('name', list(FAMILIES))
def test_ausam_trains_two_epochs_and_resumes_exactly(name, tmp_path):
    model_cfg, dataset = family(name, tmp_path)
    # one candidate batch per epoch: the 4 images, or 6 of the 12 instances (AUSAM's subsets
    # of 2 and 3 keep more than one value per BatchNorm channel)
    batch = 4 if dataset.get('data_mode') == 'bottomup' else 6
    dataset = dict(dataset, indices=batch)
    cfg = pose_runner_cfg(tmp_path / 'run', convert(model_cfg, batch), dataset,
                          batch_size=batch)
    straight = Runner.from_cfg(copy.deepcopy(cfg))
    straight.train()
    history = straight.optim_wrapper.history
    assert straight.epoch == 2 and straight.iter == 2 and history.coverage == 1.0
    assert int(history.count.sum()) == batch + batch // 2  # warm-up epoch, then the subset
    resumed_cfg = copy.deepcopy(cfg)
    resumed_cfg.update(resume=True, experiment_name=cfg.experiment_name + '_resumed',
                       load_from=resume_checkpoint_path(str(tmp_path / 'run'),
                                                        str(tmp_path / 'run' / 'epoch_1.pth')))
    resumed = Runner.from_cfg(resumed_cfg)
    resumed.train()
    a = straight.model.state_dict()
    b = resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(history.count, resumed.optim_wrapper.history.count)
    assert torch.equal(history.total, resumed.optim_wrapper.history.total)


# -- 3D lifting and InterNet: MMPose data samples with synthetic targets -------------------------
def lifting_samples(batch, frames, joints=17, motion=False):
    torch.manual_seed(0)
    samples = []
    for _ in range(batch):
        shape = (frames, joints, 3) if motion else (1, joints, 3)
        labels = InstanceData()
        labels.lifting_target_label = torch.randn(*shape)
        labels.lifting_target_weight = (torch.rand(*shape[:-1]) > 0.2).float()
        sample = PoseDataSample()
        sample.gt_instance_labels = labels
        samples.append(sample)
    return samples


LIFTING = [
    ('TemporalRegressionHead-MPJPE', dict(type='TemporalRegressionHead', in_channels=32,
                                          num_joints=17,
                                          loss=dict(type='MPJPELoss', use_target_weight=True)),
     False),
    ('TemporalRegressionHead-MSE', dict(type='TemporalRegressionHead', in_channels=32,
                                        num_joints=17), False),
    ('MotionRegressionHead-MPJPEVelocityJoint', dict(
        type='MotionRegressionHead', in_channels=32, out_channels=3, embedding_size=16,
        loss=dict(type='MPJPEVelocityJointLoss', lambda_scale=0.5,  # as MotionBERT's
                  lambda_3d_velocity=20.0)), True),
]


@pytest.mark.parametrize('case', LIFTING, ids=[c[0] for c in LIFTING])
def test_lifting_heads_give_one_value_per_sequence(case):
    _, head, motion = case
    lifter = dict(type='PoseLifter', backbone=dict(type='TCN', in_channels=2 * 17,
                                                   stem_channels=32, num_blocks=1,
                                                   kernel_sizes=(3, 3)), head=head)
    if motion:
        lifter['backbone'] = dict(type='DSTFormer', in_channels=3, feat_size=32, depth=1,
                                  num_heads=2, mlp_ratio=2, seq_len=5, att_fuse=True)
    batch = 3
    torch.manual_seed(0)
    ours = build_model(convert(lifter, batch)).eval()
    theirs = build_model(lifter).eval()
    theirs.load_state_dict(ours.state_dict())
    # MotionRegressionHead takes the backbone's (B, F, K, C) tensor, TemporalRegressionHead a
    # tuple of (B, C, 1) maps
    feats = torch.randn(batch, 5, 17, 32) if motion else (torch.randn(batch, 32, 1), )
    samples = lifting_samples(batch, 5, motion=motion)
    mine = ours.head.loss(feats, copy.deepcopy(samples))
    reference = theirs.head.loss(feats, copy.deepcopy(samples))
    assert mine['loss_pose3d'].shape == (batch, )
    torch.testing.assert_close(mine['loss_pose3d'].mean(), reference['loss_pose3d'],
                               rtol=1e-5, atol=1e-6)
    one = feats[1:2] if motion else tuple(f[1:2] for f in feats)
    alone = theirs.head.loss(one, copy.deepcopy(samples[1:2]))
    torch.testing.assert_close(mine['loss_pose3d'][1], alone['loss_pose3d'], rtol=1e-5,
                               atol=1e-6)


def internet_samples(batch, joints=42, depth=4, size=8):
    torch.manual_seed(0)
    samples = []
    for i in range(batch):
        sample = PoseDataSample()
        sample.gt_fields = PixelData(heatmaps=torch.rand(joints * depth, size, size))
        labels = InstanceData()
        labels.keypoint_weights = (torch.rand(1, joints) > 0.2).float()
        labels.root_depth = torch.randn(1)
        labels.root_depth_weight = torch.ones(1)
        labels.type = torch.tensor([[float(i % 2), 1.0]])
        labels.type_weight = torch.ones(1)
        sample.gt_instance_labels = labels
        samples.append(sample)
    return samples


def test_internet_head_gives_one_value_per_sample_for_its_three_losses():
    head = dict(type='InternetHead',
                keypoint_head_cfg=dict(in_channels=64, out_channels=21 * 4, depth_size=4,
                                       deconv_out_channels=(8, 8), deconv_kernel_sizes=(4, 4)),
                root_head_cfg=dict(in_channels=64, heatmap_size=4, hidden_dims=(8, )),
                hand_type_head_cfg=dict(in_channels=64, num_labels=2, hidden_dims=(8, )))
    model = estimator(head)  # the config leaves the three losses to the head's defaults
    batch = 3
    torch.manual_seed(0)
    ours = build_model(convert(model, batch)).eval()
    theirs = build_model(model).eval()
    theirs.load_state_dict(ours.state_dict())
    feats = (torch.randn(batch, 64, 2, 2), )
    samples = internet_samples(batch)
    mine = ours.head.loss(feats, copy.deepcopy(samples))
    reference = theirs.head.loss(feats, copy.deepcopy(samples))
    for key in ('loss_kpt', 'loss_rel_root', 'loss_hand_type'):
        assert mine[key].shape == (batch, )
        torch.testing.assert_close(mine[key].mean(), reference[key].mean(), rtol=1e-5,
                                   atol=1e-6)
