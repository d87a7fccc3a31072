"""PerSampleLoss on MMPose's real heads, losses and targets: one value per sample, same mean.

For every head the AUSAM adapter vouches for (``ROW_HEADS``) and every loss it wraps,
on the COCO / MPII samples of tests/data packed by MMPose's pipeline and codecs:
``head.loss()`` with ``PerSampleLoss`` returns ``loss_kpt`` of shape (B,) whose mean is
``head.loss()`` with MMPose's own loss module (same weights) to 1e-6, with the same gradients,
and whose i-th value is MMPose's loss of sample i alone (times B for batch-sum losses).
"""
import copy

import pytest
import torch
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope
from mmpose.registry import MODELS
from torch import nn

from ausam_mm.pose import ROW_HEADS, PerSampleLoss
from pose_helpers import (COCO, HEATMAP, INPUT, MPII, build, estimator,  # noqa: F401
                          pose_batch)

MSE = dict(type='KeypointMSELoss', use_target_weight=True)
OHKM = dict(type='KeypointOHKMMSELoss', use_target_weight=True, topk=8)
KL = dict(type='KLDiscretLoss', use_target_weight=True)
RTM_KL = dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True)
SMOOTH_L1 = dict(type='SmoothL1Loss', use_target_weight=True)
SIMCC = dict(type='SimCCLabel', input_size=INPUT, sigma=1.5, simcc_split_ratio=2.0)
RTM_SIMCC = dict(type='SimCCLabel', input_size=INPUT, sigma=(1.2, 1.4), simcc_split_ratio=2.0,
                 normalize=False, use_dark=False)
REGRESSION = dict(type='RegressionLabel', input_size=INPUT)
INTEGRAL = dict(type='IntegralRegressionLabel', input_size=INPUT, heatmap_size=(16, 16),
                sigma=2.0, normalize=True)
DECONV = dict(deconv_out_channels=(8, 8, 8), deconv_kernel_sizes=(4, 4, 4))
SIMCC_IN = dict(in_channels=64, input_size=INPUT, in_featuremap_size=(2, 2),
                simcc_split_ratio=2.0)
GAU = dict(hidden_dims=16, s=8, expansion_factor=2, dropout_rate=0., drop_path=0.,
           act_fn='SiLU', use_rel_bias=False, pos_enc=False)
INTEGRAL_IN = dict(in_channels=64, in_featuremap_size=(2, 2), num_joints=17, **DECONV)

# (case id, dataset, codec, head config, backbone out_index); the losses each head uses in
# MMPose's configs, plus the options that change a loss's batch reduction
# Regression heads flatten the 64x2x2 map (MMPose configs put a GAP neck there)
CASES = [
    ('HeatmapHead-MSE', COCO, HEATMAP, dict(type='HeatmapHead', in_channels=64,
                                            out_channels=17, loss=MSE, **DECONV), 3),
    ('HeatmapHead-MSE-skip_empty', COCO, HEATMAP, dict(
        type='HeatmapHead', in_channels=64, out_channels=17, **DECONV,
        loss=dict(type='KeypointMSELoss', skip_empty_channel=True)), 3),
    ('HeatmapHead-OHKM', MPII, dict(HEATMAP), dict(type='HeatmapHead', in_channels=64,
                                                   out_channels=16, loss=OHKM, **DECONV), 3),
    ('ViPNASHead-MSE', COCO, HEATMAP, dict(
        type='ViPNASHead', in_channels=64, out_channels=17, deconv_out_channels=(16, 16, 16),
        deconv_num_groups=(4, 4, 4), loss=MSE), 3),
    ('CPMHead-MSE+OHKM', COCO, HEATMAP, dict(  # one loss per stage
        type='CPMHead', in_channels=8, out_channels=17, num_stages=2, deconv_out_channels=None,
        loss=[MSE, OHKM]), 0),
    ('SimCCHead-KL', MPII, SIMCC, dict(type='SimCCHead', out_channels=16,
                                       deconv_out_channels=None, loss=KL, **SIMCC_IN), 3),
    ('RTMCCHead-KL', COCO, RTM_SIMCC, dict(type='RTMCCHead', out_channels=17,
                                           final_layer_kernel_size=1, gau_cfg=GAU,
                                           loss=RTM_KL, **SIMCC_IN), 3),
    ('RTMCCHead-KL-masked', COCO, RTM_SIMCC, dict(  # RTMW's masked keypoints
        type='RTMCCHead', out_channels=17, final_layer_kernel_size=1, gau_cfg=GAU,
        loss=dict(RTM_KL, mask=[0, 1, 2], mask_weight=0.5), **SIMCC_IN), 3),
    ('RegressionHead-SmoothL1', COCO, REGRESSION, dict(
        type='RegressionHead', in_channels=256, num_joints=17, loss=SMOOTH_L1), 3),
    ('RegressionHead-L1-mean', COCO, REGRESSION, dict(
        type='RegressionHead', in_channels=256, num_joints=17,
        loss=dict(type='L1Loss', use_target_weight=True)), 3),
    ('RegressionHead-L1-sum', COCO, REGRESSION, dict(
        type='RegressionHead', in_channels=256, num_joints=17,
        loss=dict(type='L1Loss', reduction='sum')), 3),
    ('RegressionHead-L1-none', COCO, REGRESSION, dict(
        type='RegressionHead', in_channels=256, num_joints=17,
        loss=dict(type='L1Loss', reduction='none', use_target_weight=True)), 3),
    ('RLEHead-RLE', COCO, REGRESSION, dict(
        type='RLEHead', in_channels=256, num_joints=17,
        loss=dict(type='RLELoss', use_target_weight=True)), 3),
    ('RLEHead-RLE-sum', MPII, REGRESSION, dict(
        type='RLEHead', in_channels=256, num_joints=16,
        loss=dict(type='RLELoss', use_target_weight=True, size_average=False)), 3),
    ('IntegralRegressionHead-SmoothL1', COCO, INTEGRAL, dict(
        type='IntegralRegressionHead', loss=SMOOTH_L1, **INTEGRAL_IN), 3),
    ('DSNTHead-SmoothL1+JS', COCO, INTEGRAL, dict(  # MultipleLossWrapper
        type='DSNTHead', **INTEGRAL_IN, loss=dict(type='MultipleLossWrapper', losses=[
            SMOOTH_L1, dict(type='JSDiscretLoss', use_target_weight=True)])), 3),
    # the face configs' losses
    ('HeatmapHead-AdaptiveWing', COCO, HEATMAP, dict(
        type='HeatmapHead', in_channels=64, out_channels=17, **DECONV,
        loss=dict(type='AdaptiveWingLoss', use_target_weight=True)), 3),
    ('RegressionHead-Wing', COCO, REGRESSION, dict(
        type='RegressionHead', in_channels=256, num_joints=17,
        loss=dict(type='WingLoss', use_target_weight=True)), 3),
    ('RegressionHead-SoftWing', COCO, REGRESSION, dict(
        type='RegressionHead', in_channels=256, num_joints=17,
        loss=dict(type='SoftWingLoss', use_target_weight=True)), 3),
]


@pytest.fixture(autouse=True)
def mmpose_scope():
    """Build MMPose's losses in MMPose's scope, whatever scope an earlier Runner left."""
    with DefaultScope.overwrite_default_scope('mmpose'):
        yield


def wrapped(loss):
    if isinstance(loss, list):
        return [wrapped(x) for x in loss]
    return dict(type='PerSampleLoss', loss=loss)


def unwrapped(module):
    """MMPose's own loss module(s) inside PerSampleLoss (the very same objects)."""
    if isinstance(module, nn.ModuleList):
        return nn.ModuleList(unwrapped(m) for m in module)
    assert isinstance(module, PerSampleLoss)
    return module.loss


def head_loss(model, feats, samples, loss_module, num_stages=1):
    model.head.loss_module = loss_module
    return model.head.loss(feats * num_stages, samples)


def grads(model, value):
    model.zero_grad()
    value.backward(retain_graph=True)
    return [p.grad.clone() for p in model.head.parameters() if p.grad is not None]


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_per_sample_mean_equals_mmpose_loss(case):
    _, dataset, codec, head, out_index = case
    torch.manual_seed(0)
    model = build(MODELS, estimator(dict(head, loss=wrapped(head['loss'])), out_index))
    model.eval()  # BatchNorm on running stats: a sample's output does not depend on the batch
    stages = head.get('num_stages', 1)
    data = model.data_preprocessor(pose_batch(dataset, codec), training=True)
    samples = data['data_samples']
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
    ours_module = model.head.loss_module
    theirs_module = unwrapped(ours_module)
    ours = head_loss(model, feats, samples, ours_module, stages)
    theirs = head_loss(model, feats, samples, theirs_module, stages)
    batch = len(samples)

    assert ours['loss_kpt'].shape == (batch, )
    # MMEngine's parse_losses logs and backpropagates the mean (L1Loss(reduction='none')
    # returns (B, K, 2); every other loss a scalar, whose mean is itself)
    torch.testing.assert_close(ours['loss_kpt'].mean(), theirs['loss_kpt'].mean(), rtol=1e-6,
                               atol=1e-6)
    assert ours['acc_pose'] == theirs['acc_pose']  # not a loss: left alone
    for g_ours, g_theirs in zip(grads(model, ours['loss_kpt'].mean()),
                                grads(model, theirs['loss_kpt'].mean())):
        # equal_nan: MMPose's JSDiscretLoss (DSNTHead) has NaN gradients of its own here
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-4, atol=1e-7, equal_nan=True)

    # each value is MMPose's loss of that sample alone, times B where MMPose sums the batch
    first = ours_module[0] if isinstance(ours_module, nn.ModuleList) else ours_module
    scale = batch if first.batch_reduction == 'sum' else 1
    for i in (0, batch - 1):
        alone = tuple(f[i:i + 1] for f in feats)
        single = head_loss(model, alone, samples[i:i + 1], theirs_module, stages)
        torch.testing.assert_close(ours['loss_kpt'][i], single['loss_kpt'].mean() * scale,
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('case', [CASES[2], CASES[7], CASES[12]],
                         ids=['OHKM', 'KL-masked', 'RLE'])
def test_vmap_and_python_loop_give_the_same_vector(case):
    _, dataset, codec, head, out_index = case
    torch.manual_seed(0)
    model = build(MODELS, estimator(dict(head, loss=wrapped(head['loss'])), out_index)).eval()
    data = model.data_preprocessor(pose_batch(dataset, codec), training=True)
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
    vmapped = head_loss(model, feats, data['data_samples'], model.head.loss_module)
    looped_module = PerSampleLoss(model.head.loss_module.loss, vectorize=False)
    looped = head_loss(model, feats, data['data_samples'], looped_module)
    torch.testing.assert_close(vmapped['loss_kpt'], looped['loss_kpt'], rtol=1e-6, atol=1e-6)


def test_registered_in_root_and_built_by_mmpose_heads_and_combined_loss():
    assert ROOT_MODELS.get('PerSampleLoss') is PerSampleLoss
    combined = build(MODELS, dict(type='CombinedLoss', losses=dict(
        heatmap_loss=dict(type='PerSampleLoss', loss=MSE))))
    assert isinstance(combined.heatmap_loss, PerSampleLoss)
    pred, target = torch.rand(3, 17, 16, 16), torch.rand(3, 17, 16, 16)
    weights = (torch.rand(3, 17) > 0.3).float()
    values = combined.heatmap_loss(pred, target, weights)
    assert values.shape == (3, )
    torch.testing.assert_close(values.mean(), combined.heatmap_loss.loss(pred, target, weights))
    # each one tested above or in test_pose_families.py
    families = {'MSPNHead', 'RTMWHead', 'VisPredictHead', 'DEKRHead', 'InternetHead',
                'TemporalRegressionHead', 'MotionRegressionHead'}
    assert {c[3]['type'] for c in CASES} | families == set(ROW_HEADS)


def test_state_dict_names_unchanged_so_checkpoints_load_either_way():
    plain = build(MODELS, dict(type='RLELoss', use_target_weight=True))
    ours = build(MODELS, dict(type='PerSampleLoss', loss=dict(type='RLELoss',
                                                              use_target_weight=True)))
    assert list(ours.state_dict()) == list(plain.state_dict())
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(1.0)
    ours.load_state_dict(plain.state_dict())  # strict
    assert all(torch.equal(a, b) for a, b in zip(ours.loss.parameters(), plain.parameters()))
    plain.load_state_dict(copy.deepcopy(ours.state_dict()))


def test_unknown_loss_needs_its_batch_reduction():
    with pytest.raises(ValueError, match="batch_reduction='mean' or 'sum'"):
        PerSampleLoss(nn.MSELoss())  # PyTorch's, not MMPose's: its reduction is not known
    ours = PerSampleLoss(nn.MSELoss(), batch_reduction='mean')
    pred, target = torch.randn(5, 17, 2), torch.randn(5, 17, 2)
    torch.testing.assert_close(ours(pred, target).mean(), ours.loss(pred, target))
    with pytest.raises(ValueError, match='not batch-first'):
        ours(pred, target[:3])


def test_batch_sum_loss_scales_to_the_candidate_batch():
    """KLDiscretLoss sums over the batch: with batch_size=b a subset of B samples gives
    b * l_i per sample (an estimate of the b-sample sum), B == b gives MMPose's sum."""
    torch.manual_seed(0)
    kl = MODELS.build(KL)
    b, subset, k, w = 8, 4, 5, 12
    pred = (torch.randn(b, k, w), torch.randn(b, k, w))
    target = (torch.rand(b, k, w).softmax(-1), torch.rand(b, k, w).softmax(-1))
    weight = torch.ones(b, k)
    full = PerSampleLoss(KL, batch_size=b)(pred, target, weight)
    torch.testing.assert_close(full.mean(), kl(pred, target, weight), rtol=1e-6, atol=1e-6)
    part = PerSampleLoss(KL, batch_size=b)(tuple(p[:subset] for p in pred),
                                           tuple(t[:subset] for t in target), weight[:subset])
    torch.testing.assert_close(part, full[:subset], rtol=1e-6, atol=1e-6)  # same scale
    plain = PerSampleLoss(KL)(tuple(p[:subset] for p in pred),
                              tuple(t[:subset] for t in target), weight[:subset])
    torch.testing.assert_close(plain * b / subset, part, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match='0'):
        PerSampleLoss(KL, batch_size=0)


def test_batch_count_loss_gives_each_sample_its_share_of_the_count_normalised_sum():
    """DEKR's displacement loss divides the batch's sum by the batch's number N of positive
    weights: v_i = B * S_i / N, so the mean is the loss and zero-weight samples get 0."""
    torch.manual_seed(0)
    cfg = dict(type='SoftWeightSmoothL1Loss', use_target_weight=True, supervise_empty=False,
               beta=1 / 9, loss_weight=0.002)
    loss = MODELS.build(cfg)
    pred, target = torch.randn(4, 34, 8, 8), torch.randn(4, 34, 8, 8)
    weight = torch.rand(4, 34, 8, 8) * (torch.rand(4, 34, 8, 8) > 0.7)
    weight[2] = 0  # an image without people
    ours = build(MODELS, dict(type='PerSampleLoss', loss=cfg))
    assert ours.batch_reduction == 'count'
    values = ours(pred, target, weight)
    torch.testing.assert_close(values.mean(), loss(pred, target, weight), rtol=1e-6, atol=1e-9)
    assert values[2] == 0
    count = int((weight > 0).sum())
    for i in (0, 3):  # sample i alone is normalised by its own count n_i
        n_i = int((weight[i] > 0).sum())
        alone = loss(pred[i:i + 1], target[i:i + 1], weight[i:i + 1])
        torch.testing.assert_close(values[i], 4 * alone * n_i / count, rtol=1e-5, atol=1e-9)


def test_wrapper_reads_and_sets_the_wrapped_loss_options():
    """Heads read their loss's options through the wrapper (DWPose: ``beta``), and RTMO's
    mode-switch hook sets ``loss_weight``: both reach the wrapped loss."""
    ours = build(MODELS, dict(type='PerSampleLoss', loss=RTM_KL))
    assert ours.beta == 10. and ours.use_target_weight
    ours.beta = 5.0
    assert ours.loss.beta == 5.0 and 'beta' not in vars(ours)
    oks = build(MODELS, dict(type='PerSampleLoss', loss=MSE))
    oks.loss_weight = 10.0
    assert oks.loss.loss_weight == 10.0 and 'loss_weight' not in vars(oks)
    ours.vectorize = False  # the wrapper's own option stays its own
    assert ours.vectorize is False and not hasattr(ours.loss, 'vectorize')
    checked = build(MODELS, dict(type='PerSampleLoss', use_sigmoid=True, loss=dict(
        type='BCELoss', use_target_weight=True, use_sigmoid=True)))  # VisPredictHead's
    assert checked.use_sigmoid
    with pytest.raises(ValueError, match='use_sigmoid=False must repeat'):
        build(MODELS, dict(type='PerSampleLoss', use_sigmoid=False, loss=dict(
            type='BCELoss', use_sigmoid=True)))
