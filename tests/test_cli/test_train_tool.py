"""tools/train.py, the registry names, config conversion and the resume safety module."""
import copy
import os
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DATA_SAMPLERS, OPTIM_WRAPPERS
from mmengine.runner import Runner

from benchmarks.synthetic import write_class_images
from ausam_mm.engine.convert import to_amp, to_ausam, to_sam
from conftest import ROOT, run_train as run
from conftest import assert_resumed, log_of, toy_runner_cfg, weights, write_cfg
from faults import MARKER, ForeignPickle
from toy import ToyConvNet


def test_public_names_are_registered_in_mmengine_root_registries():
    import ausam_mm  # noqa: F401
    for name in ('SAMOptimWrapper', 'AUSAMOptimWrapper'):
        assert name in OPTIM_WRAPPERS.module_dict
    assert 'AUSAMBatchSampler' in DATA_SAMPLERS.module_dict
    # and they resolve from a downstream scope
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        import mmpretrain.registry as reg
        assert reg.OPTIM_WRAPPERS.get('AUSAMOptimWrapper') is not None


@pytest.mark.parametrize('flag', [[], ['--ausam', 'ratio=0.5']])
def test_train_two_epochs_then_resume(tmp_path, flag):
    cfg = write_cfg(tmp_path, optim='OptimWrapper', epochs=3, log_level='INFO')
    straight = run([cfg, '--work-dir', str(tmp_path / 'a'), *flag])
    run([cfg, '--work-dir', str(tmp_path / 'b'), *flag,
         '--cfg-options', 'train_cfg.max_epochs=2'])
    assert os.path.isfile(tmp_path / 'b' / 'epoch_2.pth')
    resumed = run([cfg, '--work-dir', str(tmp_path / 'b'), *flag, '--resume'])
    assert_resumed(resumed, 2, 8)
    assert resumed.train_loop.epoch == 3
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ausam_flag_changes_are_logged_and_dumped_config_reruns(tmp_path):
    cfg = write_cfg(tmp_path, optim='OptimWrapper', epochs=1, log_level='INFO')
    runner = run([cfg, '--work-dir', str(tmp_path / 'w'), '--ausam', 'ratio=0.25', 'rho=0.2'])
    log = log_of(runner)
    assert '[ausam_mm] optim_wrapper.type: OptimWrapper -> AUSAMOptimWrapper (rho=0.2)' in log
    dumped = str(tmp_path / 'w' / os.path.basename(cfg))
    again = Config.fromfile(dumped)
    assert again.optim_wrapper.type == 'AUSAMOptimWrapper' and again.optim_wrapper.rho == 0.2
    assert again.train_dataloader.batch_sampler.ratio == 0.25
    rerun = run([dumped, '--work-dir', str(tmp_path / 'w2')])
    assert rerun.optim_wrapper.history.coverage == 1.0  # warm-up epoch scored every sample


def test_foreign_pickle_is_still_refused_by_load_from(tmp_path):
    """load_from goes through the allow-list: a pickle payload does not run, while the run's
    own checkpoint resumes (test_train_two_epochs_then_resume)."""
    if os.path.exists(MARKER):
        os.remove(MARKER)
    evil = tmp_path / 'evil.pth'
    with open(evil, 'wb') as f:
        torch.save({'state_dict': {}, 'meta': ForeignPickle()}, f)
    runner = Runner.from_cfg(Config(toy_runner_cfg(tmp_path / 'w', optim='OptimWrapper')))
    with pytest.raises(pickle.UnpicklingError):
        runner.load_checkpoint(str(evil))
    assert not os.path.exists(MARKER)


def test_convert_keeps_optimizer_and_is_idempotent(tmp_path):
    cfg = Config(toy_runner_cfg(tmp_path, optim='OptimWrapper',
                                optim_wrapper=dict(type='OptimWrapper', clip_grad=dict(max_norm=1),
                                                   optimizer=dict(type='AdamW', lr=1e-3),
                                                   paramwise_cfg=dict(norm_decay_mult=0))))
    first = to_ausam(cfg, ratio=0.3, rho=0.05)
    assert cfg.optim_wrapper.type == 'AUSAMOptimWrapper'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.clip_grad.max_norm == 1
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
    dataset = cfg.train_dataloader.dataset
    to_ausam(cfg)
    assert cfg.train_dataloader.dataset == dataset  # not wrapped twice
    assert cfg.custom_imports.imports.count('ausam_mm') == 1 and len(first) >= 3
    assert to_amp(cfg) and cfg.optim_wrapper.type == 'AmpAUSAMOptimWrapper'
    sam = Config(toy_runner_cfg(tmp_path, optim='OptimWrapper'))
    to_sam(sam)
    to_amp(sam)
    assert sam.optim_wrapper.type == 'AmpSAMOptimWrapper'


def test_sam_and_ausam_flags_say_the_rho_they_use(tmp_path):
    """One default radius for both; the change line names it whether or not it was set."""
    changes = {}
    for flag, convert in (('sam', to_sam), ('ausam', to_ausam)):
        cfg = Config(toy_runner_cfg(tmp_path, optim='OptimWrapper'))
        changes[flag] = convert(cfg)[0]
    assert changes['sam'] == 'optim_wrapper.type: OptimWrapper -> SAMOptimWrapper (rho=0.05)'
    assert changes['ausam'] == 'optim_wrapper.type: OptimWrapper -> AUSAMOptimWrapper (rho=0.05)'
    model = ToyConvNet()
    for name in ('SAMOptimWrapper', 'AUSAMOptimWrapper'):
        wrapper = build_optim_wrapper(model, dict(type=name, optimizer=dict(type='SGD', lr=0.1)))
        assert wrapper.param_groups[0]['rho'] == 0.05


def test_cls_adapter_resolves_loss_types_as_the_registry_does():
    from mmpretrain.models.losses import CrossEntropyLoss, LabelSmoothLoss
    from ausam_mm.cls import per_sample_cls_losses
    model = dict(type='ImageClassifier', head=dict(
        type='LinearClsHead', loss=dict(type='mmpretrain.CrossEntropyLoss'),
        extra=[dict(type=LabelSmoothLoss, label_smooth_val=0.1),
               dict(type='mmdet.CrossEntropyLoss'), dict(type='MSELoss')]))
    changes = per_sample_cls_losses(model)
    assert model['head']['loss']['reduction'] == 'none'
    assert model['head']['extra'][0]['reduction'] == 'none'
    assert 'reduction' not in model['head']['extra'][1]  # mmdet's loss: not ours to change
    assert 'reduction' not in model['head']['extra'][2]
    assert changes == ["model.head.loss.reduction = 'none' (CrossEntropyLoss)",
                       "model.head.extra[0].reduction = 'none' (LabelSmoothLoss)"]
    assert CrossEntropyLoss.__name__ in changes[0]


def test_convert_errors_name_the_problem(tmp_path):
    cfg = Config(toy_runner_cfg(tmp_path, optim='OptimWrapper'))
    with pytest.raises(ValueError, match="unknown option.*'ratoi'"):
        to_ausam(cfg, ratoi=0.5)
    cfg.optim_wrapper.type = 'MyWrapper'
    with pytest.raises(ValueError, match="'MyWrapper'"):
        to_sam(cfg)


def test_mmpretrain_config_trains_with_ausam_flag(tmp_path):
    """An upstream mmpretrain config (its dataset swapped for generated images, its loss
    written with the registry scope) through tools/train.py --ausam: the loss becomes per
    sample and AUSAM runs."""
    write_class_images(str(tmp_path / 'images'), n=32, size=32)
    cfg = tmp_path / 'cifar_tiny.py'
    cfg.write_text(f"""
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']
model = dict(backbone=dict(base_channels=8, stem_channels=8), head=dict(
    in_channels=64, loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root='{tmp_path / 'images'}',
    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=10)
val_dataloader = None
val_cfg = None
val_evaluator = None
log_level = 'INFO'
""")
    runner = run([str(cfg), '--work-dir', str(tmp_path / 'w'), '--ausam', 'ratio=0.5'])
    assert runner.cfg.model.head.loss.reduction == 'none'
    assert runner.optim_wrapper.history.coverage == 1.0
    assert int(runner.optim_wrapper.history.count.sum()) == 32 + 16  # warm-up, then half


CONFIGS = os.path.join(ROOT, 'configs')
CLS_TRIOS = [('cls', f'resnet18_{data}', 0.1) for data in ('cifar10', 'cifar100')] + [
    ('qat', f'resnet18_{data}_{bits}', rho)
    for data, rho in (('cifar10', 0.05), ('cifar100', 0.1)) for bits in ('w4a4', 'w2a4')]


@pytest.mark.parametrize('folder,name,rho', CLS_TRIOS, ids=[t[1] for t in CLS_TRIOS])
def test_shipped_cls_configs_are_their_base_plus_what_sam_and_ausam_need(folder, name, rho):
    def load(kind):
        return Config.fromfile(os.path.join(CONFIGS, folder, f'{name}_{kind}.py'))

    plain = load('sgd')
    sam = copy.deepcopy(plain)
    to_sam(sam, rho=rho)
    assert load('sam').to_dict() == sam.to_dict()
    changes = to_ausam(plain, rho=rho)  # AUSAM's defaults: the config restates none
    assert any("reduction = 'none'" in c for c in changes)
    assert load('ausam').to_dict() == plain.to_dict()  # the explicit form is what --ausam writes
