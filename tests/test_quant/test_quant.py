"""BrevitasQATModel: real Brevitas layers in real mmpretrain/MMPose models and MMEngine Runners."""
import glob
import math
import os
import os.path as osp
import re
import uuid

import numpy as np
import pytest
import torch
from brevitas.nn.quant_layer import QuantWeightBiasInputOutputLayer
from mmcv.cnn.bricks import wrappers
from mmcv.cnn.bricks.conv_ws import ConvWS2d
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope, init_default_scope
from mmengine.runner import Runner
from torch import nn

from ausam_mm.compat.torch_version import DYNAMO_ONNX_TORCH, has_dynamo_onnx_export
from ausam_mm.engine import resume_checkpoint_path
from ausam_mm.engine.convert import to_sam
from ausam_mm.quant import SCALES_KEY, quant_parameters, quantize_model
from conftest import ROOT, assert_resumed, train, weights

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'cls', '*.py')) +
                 glob.glob(osp.join(ROOT, 'configs', 'qat', '*.py')))
POSE = osp.join(ROOT, 'configs', 'qat', 'simcc_res50_w4a4_mpii-256x256.py')
FIRST_LAST = ('backbone.conv1', 'head.fc')


def tiny_classifier(num_classes=2, **qat):
    """A 2-stage ResNet_CIFAR-18 classifier (8/16 channels), quantized from config."""
    inner = dict(
        type='ImageClassifier', _scope_='mmpretrain',
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=num_classes),
        backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=2, strides=(1, 2),
                      dilations=(1, 1), out_indices=(1, ), stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=16,
                  loss=dict(type='CrossEntropyLoss', reduction='none')))
    return MODELS.build(dict(type='BrevitasQATModel', model=inner, **qat))


def quant_layers(model):
    return {n: m for n, m in model.named_modules()
            if isinstance(m, QuantWeightBiasInputOutputLayer)}


def batch(n=4, size=16, seed=0):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    return dict(inputs=images, data_samples=[DataSample().set_gt_label(i % 2) for i in range(n)])


def warm_up(model, steps=3):
    """Training forwards: the scales initialise (weights: 1st call, inputs: collect steps)."""
    model.train()
    with torch.no_grad():
        for i in range(steps):
            model(**model.data_preprocessor(batch(seed=i), True), mode='tensor')


# -- the quantized model ---------------------------------------------------------------------

@pytest.mark.parametrize('quantizer,w_bits,a_bits', [('lsq', 2, 4), ('int', 4, 3)])
def test_weights_and_inputs_take_at_most_2_to_the_bits_values(quantizer, w_bits, a_bits):
    model = tiny_classifier(quantizer=quantizer, weight_bit_width=w_bits, act_bit_width=a_bits,
                            collect_stats_steps=2)
    layers = quant_layers(model)
    assert len(layers) == 11  # stem, 4 + 4 block convs, 1 downsample, fc: all quantized
    warm_up(model)
    model.eval()
    inputs = {}
    hooks = [m.input_quant.register_forward_hook(
        lambda mod, args, out, name=name: inputs.__setitem__(name, out))
        for name, m in layers.items()]
    model(**model.data_preprocessor(batch(seed=9), False), mode='tensor')
    for h in hooks:
        h.remove()
    for name, layer in layers.items():
        wb, ab = (8, 8) if name in FIRST_LAST else (w_bits, a_bits)
        assert int(layer.weight_quant.bit_width()) == wb, name
        assert int(layer.input_quant.bit_width()) == ab, name
        weight = layer.quant_weight()
        assert weight.int().abs().max() <= 2 ** (wb - 1) - 1  # narrow signed range
        rows = weight.value.flatten(1) if quantizer == 'lsq' else weight.value.flatten()[None]
        counts = [row.unique().numel() for row in rows]  # per channel for 'lsq'
        assert max(counts) <= 2 ** wb, (name, counts)
        channels = getattr(layer, 'out_channels', None) or layer.out_features
        assert weight.scale.numel() == (channels if quantizer == 'lsq' else 1)
        act = inputs[name]
        assert act.value.unique().numel() <= 2 ** ab, name
        assert -2 ** (ab - 1) <= act.int().min() and act.int().max() <= 2 ** (ab - 1) - 1
    # first/last really use more than the others' levels: the 8-bit stem input of 4x3x16x16
    # random pixels takes far more than 2^a_bits values
    assert inputs['backbone.conv1'].value.unique().numel() > 2 ** a_bits
    middle = layers['backbone.layer2.0.conv1'].quant_weight().value
    assert middle.unique().numel() > 2  # not collapsed to zero


def test_result_is_the_inner_model_and_loads_float_and_own_state_dicts():
    from mmpretrain.models import ImageClassifier
    model = tiny_classifier()
    assert type(model) is ImageClassifier
    assert type(model).train_step is ImageClassifier.train_step
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        float_model = MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=2, strides=(1, 2),
                          dilations=(1, 1), out_indices=(1, ), stem_channels=8,
                          base_channels=8),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=2, in_channels=16)))
    float_keys, scale_keys = set(float_model.state_dict()), {n for n, _ in quant_parameters(model)}
    assert set(model.state_dict()) == float_keys  # Brevitas saves scales once initialised
    missing = model.load_state_dict(float_model.state_dict(), strict=False).missing_keys
    assert set(missing) == scale_keys and len(scale_keys) == 22  # weight + input per layer
    assert torch.equal(model.backbone.conv1.weight, float_model.backbone.conv1.weight)
    warm_up(model)
    assert set(model.state_dict()) == float_keys | scale_keys
    # loading a state dict (load_from, resume) keeps the scale Parameters the optimizer holds
    from brevitas import config
    params, reinit = dict(quant_parameters(model)), config.REINIT_ON_STATE_DICT_LOAD
    state = {k: v + 1 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert all(p is params[n] and torch.equal(p, state[n]) for n, p in quant_parameters(model))
    assert config.REINIT_ON_STATE_DICT_LOAD is reinit


def test_mmcv_wrapper_layers_are_quantized_and_nothing_is_skipped_silently(tmp_path):
    torch.manual_seed(0)

    def net():
        return nn.ModuleDict(dict(
            conv=wrappers.Conv2d(3, 8, 3, padding=1), deconv=wrappers.ConvTranspose2d(8, 4, 2, 2),
            ws=ConvWS2d(4, 4, 3, padding=1), fc=wrappers.Linear(4, 3), emb=nn.Embedding(5, 4)))

    def forward(m, x):
        x = m['ws'](m['deconv'](torch.relu(m['conv'](x))))
        return m['fc'](x.mean((2, 3)))

    with pytest.raises(ValueError, match=r"ws is a mmcv\.cnn\.bricks\.conv_ws\.ConvWS2d, a "
                                         r"subclass of torch\.nn\.Conv2d that redefines "
                                         r"forward\(\).*Add 'ws' \(or its parent\) to skip"):
        quantize_model(net())
    model = net()
    x = torch.randn(2, 3, 8, 8)
    expected = forward(model, x)
    log = tmp_path / 'quant.log'
    MMLogger.get_instance(f'quant_{uuid.uuid4().hex[:6]}', log_file=str(log))
    quantize_model(model, weight_bit_width=8, act_bit_width=8, skip=['ws'],
                   collect_stats_steps=1)
    assert [type(model[k]).__name__ for k in ('conv', 'deconv', 'ws', 'fc')] == [
        'QuantConv2d', 'QuantConvTranspose2d', 'ConvWS2d', 'QuantLinear']
    model.train()
    forward(model, x)
    model.eval()
    got = forward(model, x)  # the float weights were carried over: W8A8 is close to float
    assert (got - expected).abs().max() < 0.05 * expected.abs().max()
    text = log.read_text()
    assert 'Brevitas QAT (lsq): 3 of 5 layers quantized' in text
    for row in (r'conv\s+Conv2d\s+QuantConv2d\s+8\s+8\s+first/last',
                r'deconv\s+ConvTranspose2d\s+QuantConvTranspose2d\s+8\s+8',
                r'ws\s+ConvWS2d\s+float\s+-\s+-\s+float \(skip: ws\)',
                r'emb\s+Embedding\s+float\s+-\s+-\s+float: no Brevitas layer mapped'):
        assert re.search(row, text), row
    assert "['emb'] stay in float" in text
    with pytest.raises(ValueError, match="skip: 'head' is not a module"):
        quantize_model(net(), skip=['head'])


@pytest.mark.parametrize('perturb', [False, True])
def test_sam_perturbs_quantizer_scales_only_when_asked(perturb):
    """The param-group key ``sam_perturb`` set on the scales by ``custom_keys`` under
    ``SCALES_KEY`` (as the QAT configs and the label-noise study do): watch the values the 2nd
    (perturbed) forward really uses, with a forward pre-hook."""
    torch.manual_seed(0)
    model = tiny_classifier(collect_stats_steps=1)
    warm_up(model, steps=2)
    layer = model.backbone.layer1[0].conv1
    scales = dict(quant_parameters(layer))
    assert len(scales) == 2
    seen = []
    layer.register_forward_pre_hook(lambda m, args: seen.append(
        [m.weight.detach().clone()] + [p.detach().clone() for p in scales.values()]))
    wrapper = build_optim_wrapper(model, dict(
        type='SAMOptimWrapper', rho=0.5, optimizer=dict(type='SGD', lr=0.1),
        paramwise_cfg=dict(custom_keys={SCALES_KEY: dict(sam_perturb=perturb)})))
    model.train_step(batch(seed=5), wrapper)
    (w1, *s1), (w2, *s2) = seen
    assert not torch.equal(w1, w2)  # the weights were perturbed in the second pass
    for a, b in zip(s1, s2):
        assert torch.equal(a, b) is not perturb
    after = [p.detach() for p in scales.values()]
    assert all(not torch.equal(a, b) for a, b in zip(s1, after))  # SGD trained the scales


def test_the_0_1_option_perturb_quant_params_is_refused_with_the_config_to_write():
    with pytest.raises(ValueError, match=r"(?s)perturb_quant_params=False\).*Remove the option.*"
                                         r"custom_keys=\{'\.scaling_impl\.value': "
                                         r"dict\(sam_perturb=False\)\}"):
        tiny_classifier(perturb_quant_params=False)


# -- configs ---------------------------------------------------------------------------------

def build_from(cfg):
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model = dict(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor', cfg.data_preprocessor)
    return MODELS.build(model)


def test_every_config_loads_and_builds_its_model():
    cfgs = {path: Config.fromfile(path) for path in CONFIGS}
    cfgs[POSE] = Config.fromfile(POSE)
    assert len(cfgs) == 19
    built = {}
    for path, cfg in cfgs.items():
        key = repr(cfg.model) + repr(cfg.get('data_preprocessor'))  # one build per model
        model = built[key] = built.get(key) or build_from(cfg)
        name = osp.basename(path)
        layers = quant_layers(model)
        if '/qat/' in path:  # SAM leaves exactly the quantizers' scales at w (trains them all)
            groups = build_optim_wrapper(model, cfg.optim_wrapper).param_groups
            unperturbed = {p for g in groups if g.get('sam_perturb') is False for p in g['params']}
            assert unperturbed == {p for _, p in quant_parameters(model)}, name
        if '/qat/' not in path:
            assert not layers, name
        elif 'simcc' in name:
            assert type(model).__name__ == 'TopdownPoseEstimator'
            assert int(layers['backbone.conv1'].weight_quant.bit_width()) == 8
            assert int(layers['backbone.layer4.2.conv3'].input_quant.bit_width()) == 4
            assert len(layers) == 53 and not any(n.startswith('head') for n in layers)
        else:
            bits = 2 if 'w2a4' in name else 4
            assert int(layers['backbone.layer2.0.conv1'].weight_quant.bit_width()) == bits
            assert int(layers['backbone.layer2.0.conv1'].input_quant.bit_width()) == 4
            assert int(layers['head.fc'].weight_quant.bit_width()) == 8
            assert len(layers) == 21
        head = getattr(model, 'head', None)
        classes = 100 if 'cifar100' in name else 10
        if 'simcc' not in name:
            assert head.num_classes == classes and model.data_preprocessor.num_classes == classes
            per_sample = head.loss_module.reduction == 'none'
            assert per_sample == name.endswith('_ausam.py'), name
            assert cfg.optim_wrapper.type == {'sgd': 'OptimWrapper', 'sam': 'SAMOptimWrapper',
                                              'ausam': 'AUSAMOptimWrapper'}[
                                                  name[:-3].rsplit('_', 1)[1]]


# -- training in a Runner ----------------------------------------------------------------------

@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    """mmpretrain CustomDataset layout: root/<class>/<image>.png, 2 classes x 8 images."""
    import mmcv
    root = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    for label, colour in enumerate(((200, 40, 40), (40, 40, 200))):
        os.makedirs(root / f'class_{label}')
        for i in range(8):
            img = np.clip(rng.normal(colour, 40, (16, 16, 3)), 0, 255).astype(np.uint8)
            mmcv.imwrite(img, str(root / f'class_{label}' / f'{i}.png'))
    return str(root)


def qat_cls_cfg(image_folder, work_dir, max_epochs, **kwargs):
    """configs/qat/resnet18_cifar10_w4a4_ausam.py with a tiny backbone and the image folder."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/qat/resnet18_cifar10_w4a4_ausam.py'))
    cfg.model.collect_stats_steps = 2
    cfg.model.model.backbone.update(num_stages=2, strides=(1, 2), dilations=(1, 1),
                                    out_indices=(1, ), stem_channels=8, base_channels=8)
    cfg.model.model.head.update(num_classes=2, in_channels=16)
    cfg.data_preprocessor.num_classes = 2
    loader = cfg.train_dataloader
    loader.update(batch_size=8, num_workers=0, persistent_workers=False)
    loader.batch_sampler.update(ramp_epochs=1, warmup_epochs=1)
    loader.dataset.dataset = dict(type='CustomDataset', data_root=image_folder,
                                  pipeline=[dict(type='LoadImageFromFile'),
                                            dict(type='PackInputs')])
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=3,
                                T_max=3)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.update(work_dir=str(work_dir), experiment_name=f'qat_{uuid.uuid4().hex[:8]}',
               randomness=dict(seed=0), **kwargs)
    return cfg


@pytest.fixture(scope='module')
def qat_runs(image_folder, tmp_path_factory):
    """AUSAM QAT: 3 epochs straight, and 2 epochs then resumed to 3 in the same work dir."""
    root = tmp_path_factory.mktemp('qat')
    straight = train(qat_cls_cfg(image_folder, root / 'straight', 3))
    first = train(qat_cls_cfg(image_folder, root / 'split', 2))
    log = open(glob.glob(str(root / 'split' / first.timestamp / '*.log'))[0]).read()
    hub = {k: first.message_hub.get_scalar(f'train/{k}').current()
           for k in ('ausam/selected', 'loss')}
    del first
    load_from = resume_checkpoint_path(str(root / 'split'), True)
    resumed = train(qat_cls_cfg(image_folder, root / 'split', 3, resume=True,
                                load_from=load_from, log_level='INFO'))
    assert_resumed(resumed, 2, 4)
    return dict(straight=straight, resumed=resumed, log=log, hub=hub, work_dir=root / 'split')


def test_qat_classifier_trains_with_ausam_and_logs_its_table(qat_runs):
    log, hub = qat_runs['log'], qat_runs['hub']
    assert 'Brevitas QAT (lsq): 11 of 11 layers quantized' in log
    assert re.search(r'backbone\.conv1\s+Conv2d\s+QuantConv2d\s+8\s+8', log)
    assert re.search(r'backbone\.layer1\.0\.conv1\s+Conv2d\s+QuantConv2d\s+4\s+4', log)
    assert 'ausam/selected' in log and hub['ausam/selected'] == 4  # half of the batch of 8
    assert math.isfinite(hub['loss'])
    model = qat_runs['resumed'].model
    assert type(model).__name__ == 'ImageClassifier' and len(quant_layers(model)) == 11


def test_qat_resume_is_bit_exact(qat_runs):
    straight, resumed = qat_runs['straight'], qat_runs['resumed']
    assert resumed.epoch == 3 and resumed.iter == straight.iter == 6
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys() and any('scaling_impl.value' in k for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    ha, hb = straight.optim_wrapper.history, resumed.optim_wrapper.history
    assert torch.equal(ha.total, hb.total) and torch.equal(ha.count, hb.count)


def test_export_qat_checkpoint(qat_runs, tmp_path, capsys):
    from ausam_mm.quant.export import ExportError, export_qat_checkpoint, missing_packages
    work_dir = qat_runs['work_dir']
    cfg = Config.fromfile(osp.join(work_dir, 'resnet18_cifar10_w4a4_ausam.py'))  # the Runner's
    checkpoint, out = str(work_dir / 'epoch_3.pth'), str(tmp_path / 'qat.onnx')

    def export(trust=True):
        return export_qat_checkpoint(cfg, checkpoint, out, shape=(3, 16, 16), trust=trust)
    # requirements/lock.txt pins the `export` packages: there the export runs for real (the
    # torch 2.1 environment of `make test-compat` checks the refusals)
    if missing_packages(torchscript=False):
        with pytest.raises(ExportError, match='pip install onnx onnxscript onnxoptimizer onnxrun'):
            export()
        return
    if not has_dynamo_onnx_export():
        with pytest.raises(ExportError,
                           match=rf'needs torch >= {DYNAMO_ONNX_TORCH}.*--torchscript'):
            export()
        pytest.skip(f'ONNX export through torch.export needs torch >= {DYNAMO_ONNX_TORCH}; this '
                    f'is torch {torch.__version__} (its refusal was checked)')
    with pytest.raises(ExportError, match='--trust-checkpoint'):
        export(trust=False)  # torch's weights_only load refuses MMEngine's logger state
    assert export() == out
    printed = capsys.readouterr().out
    assert 'QuantizeLinear' in printed and osp.getsize(tmp_path / 'qat.onnx') > 0
    assert 'onnxruntime check passed' in printed
    import onnx
    graph = onnx.load(str(tmp_path / 'qat.onnx')).graph
    ops = {node.op_type for node in graph.node}
    assert {'QuantizeLinear', 'DequantizeLinear', 'Conv'} <= ops


def test_pose_model_quantized_from_config_trains_two_iterations(tmp_path):
    """configs/qat/simcc_res50_w4a4_mpii: shrunk (ResNet-18 with 8 channels, 64x64) on the MPII
    samples, SAM with MMPose's Adam."""
    cfg = Config.fromfile(POSE)
    codec = dict(type='SimCCLabel', input_size=(64, 64), sigma=6.0, simcc_split_ratio=2.0)
    inner = cfg.model.model
    inner.backbone = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8)
    inner.head.update(in_channels=64, input_size=codec['input_size'], in_featuremap_size=(2, 2),
                      decoder=codec)
    inner.test_cfg = dict(flip_test=False)
    loader = cfg.train_dataloader
    loader.update(batch_size=3, num_workers=0, persistent_workers=False)
    loader.dataset.update(data_root=osp.join(ROOT, 'tests/data/mpii'), ann_file='test_mpii.json',
                          data_prefix=dict(img=''))
    for t in loader.dataset.pipeline:
        if t.type == 'TopdownAffine':
            t.input_size = codec['input_size']
        elif t.type == 'GenerateTarget':
            t.encoder = codec
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1)  # 5 samples, batch 3: 2 iterations
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.update(work_dir=str(tmp_path), experiment_name=f'pose_{uuid.uuid4().hex[:8]}',
               randomness=dict(seed=0))
    to_sam(cfg, rho=0.05)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    model = runner.model
    layers = quant_layers(model)
    assert type(model).__name__ == 'TopdownPoseEstimator' and len(layers) == 20  # ResNet-18
    assert int(layers['backbone.conv1'].weight_quant.bit_width()) == 8
    assert {int(m.weight_quant.bit_width()) for n, m in layers.items()
            if n != 'backbone.conv1'} == {4}
    assert type(model.head.mlp_head_x) is nn.Linear  # skip=['head']: float
    hub = runner.message_hub
    assert math.isfinite(hub.get_scalar('train/loss').current())
    assert hub.get_scalar('train/sam/grad_norm').current() > 0
    adam = runner.optim_wrapper.optimizer.state
    scales = [p for _, p in quant_parameters(model)]
    assert len(scales) == 40 and all(int(adam[p]['step']) == 2 for p in scales)  # trained
