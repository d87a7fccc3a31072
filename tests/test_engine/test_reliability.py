"""Bad options and faults: each gives a clear error naming what is wrong, or a result the log
states (docs/reliability.md). Real Runners, models and wrappers throughout."""
import math
import os
import os.path as osp
import re
import signal
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS
from mmengine.runner import Runner

from benchmarks.synthetic import write_class_images
from ausam_mm.core import ScoreHistory, build_score
from ausam_mm.engine import SAMOptimWrapper
from conftest import ROOT, ausam_sampler, params, run_train, toy_runner_cfg, train, write_cfg
import faults  # noqa: F401  (registers NaNAtDataset)
from toy import ToyConvNet, toy_batch


@MODELS.register_module(force=True)
class LossOutsideForward(ToyConvNet):
    """A custom model whose train_step computes the loss from forward's logits."""

    def train_step(self, data, optim_wrapper):
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            logits = self(**data, mode='tensor')
            labels = torch.stack([s.label for s in data['data_samples']])
            loss = F.cross_entropy(logits, labels)
        optim_wrapper.update_params(loss)
        return {'loss': loss}


def wrapper(kind='SAMOptimWrapper', model=None, **options):
    return build_optim_wrapper(model or ToyConvNet(), dict(
        type=kind, optimizer=dict(type='SGD', lr=0.1), **options))


# -- option types and finiteness, checked at construction ------------------------------------

SAMPLER_CASES = [
    (dict(ratio='abc'), TypeError, "`ratio` must be a number, got 'abc' (str)"),
    (dict(ratio='0.5'), TypeError, "`ratio` must be a number, got '0.5' (str)"),
    (dict(ratio=float('nan')), ValueError, '`ratio` must be finite, got nan'),
    (dict(ratio=0), ValueError, '`ratio` must be in (0, 1], got 0'),
    (dict(f_max=float('inf')), ValueError, '`f_max` must be finite, got inf'),
    (dict(f_min='0.1'), TypeError, "`f_min` must be a number, got '0.1' (str)"),
    (dict(f_min=0), ValueError, '`f_min` must be > 0, got 0'),
    (dict(ramp_epochs=float('nan')), ValueError, '`ramp_epochs` must be finite, got nan'),
    (dict(ramp_epochs=-1), ValueError, '`ramp_epochs` must be >= 0, got -1'),
    (dict(ramp_start=float('-inf')), ValueError, '`ramp_start` must be finite, got -inf'),
    (dict(warmup_epochs=1.5), TypeError, '`warmup_epochs` must be an integer, got 1.5'),
    (dict(warmup_epochs=-1), ValueError, '`warmup_epochs` must be an integer >= 0, got -1'),
    (dict(drop_last='False'), TypeError, "`drop_last` must be True or False, got 'False'"),
    (dict(beta='0.9'), TypeError, "`beta` must be a number, got '0.9' (str)"),
    (dict(beta=1.0), ValueError, '`beta` must be in [0, 1), got 1.0'),
    (dict(beta=float('nan')), ValueError, '`beta` must be finite, got nan'),
    (dict(seed='0'), TypeError, "`seed` must be an integer, got '0' (str)"),
    (dict(score=3), ValueError, 'unknown score 3'),
    (dict(score=dict(f_max=0.6)), ValueError,
     "['f_max'] are options of AUSAMBatchSampler, not of its `score` dict"),
    (dict(batch_size=8.0), TypeError, '`batch_size` must be an integer, got 8.0'),
    (dict(batch_size=0), ValueError, '`batch_size` must be an integer >= 1, got 0'),
]


@pytest.mark.parametrize('options,error,message', SAMPLER_CASES,
                         ids=[repr(c[0]) for c in SAMPLER_CASES])
def test_sampler_option_is_checked_at_construction(options, error, message):
    options = dict(options)
    batch_size = options.pop('batch_size', 8)
    with pytest.raises(error, match=re.escape(message)):
        ausam_sampler(n=16, batch_size=batch_size, **options)


WRAPPER_CASES = [
    (dict(rho='0.05'), TypeError, "`rho` must be a number, got '0.05' (str)"),
    (dict(rho=float('inf')), ValueError, '`rho` must be finite, got inf'),
    (dict(rho=float('nan')), ValueError, '`rho` must be finite, got nan'),
    (dict(rho=-1), ValueError, '`rho` must be >= 0, got -1'),
    (dict(eta=float('inf')), ValueError, '`eta` must be finite, got inf'),
    (dict(eta='0.01'), TypeError, "`eta` must be a number, got '0.01' (str)"),
    (dict(adaptive='yes'), TypeError, "`adaptive` must be True or False, got 'yes'"),
    (dict(sync_perturbation=1), TypeError, '`sync_perturbation` must be True or False, got 1'),
]


@pytest.mark.parametrize('kind', ['SAMOptimWrapper', 'AUSAMOptimWrapper'])
@pytest.mark.parametrize('options,error,message', WRAPPER_CASES,
                         ids=[repr(c[0]) for c in WRAPPER_CASES])
def test_wrapper_option_is_checked_at_construction(kind, options, error, message):
    with pytest.raises(error, match=re.escape(message)):
        wrapper(kind, **options)


def test_param_group_rho_is_checked():
    model = ToyConvNet()
    optimizer = torch.optim.SGD([dict(params=model.features.parameters(), rho='big'),
                                 dict(params=model.head.parameters())], lr=0.1)
    with pytest.raises(TypeError, match="`rho of param group 0` must be a number, got 'big'"):
        SAMOptimWrapper(optimizer=optimizer)


def test_score_history_checks_its_options():
    with pytest.raises(TypeError, match='`size` must be an integer'):
        ScoreHistory(10.0)
    with pytest.raises(ValueError, match='`f_max` must be finite'):
        build_score(dict(type='ausam', f_max=math.inf))


def test_command_line_option_of_the_wrong_type_is_named(tmp_path):
    cfg = write_cfg(tmp_path, optim='OptimWrapper', epochs=1)
    with pytest.raises(TypeError, match="`ratio` must be a number, got 'abc'"):
        run_train([cfg, '--work-dir', str(tmp_path / 'w'), '--ausam', 'ratio=abc'])


# -- what the wrapper expects of the model ---------------------------------------------------

@pytest.mark.parametrize('kind', ['SAMOptimWrapper', 'AUSAMOptimWrapper'])
def test_loss_computed_outside_forward_is_explained(kind):
    model = LossOutsideForward()
    optim = wrapper(kind, model=model)
    with pytest.raises(TypeError, match=r"forward\(mode='loss'\).*BaseModel.train_step"):
        model.train_step(toy_batch(), optim)


# -- the non-finite rule ---------------------------------------------------------------------

@pytest.mark.parametrize('optim', ['SAMOptimWrapper', 'AUSAMOptimWrapper'])
def test_non_finite_loss_names_the_iteration_and_leaves_the_weights(tmp_path, optim):
    """A NaN image in the 3rd batch: the run stops at iteration 3, before that step."""
    cfg = toy_runner_cfg(tmp_path, optim=optim, epochs=1, n=32, batch_size=8,
                         sampler=dict(type='DefaultSampler', shuffle=False))
    cfg['train_dataloader']['dataset']['dataset'] = dict(type='NaNAtDataset', n=32,
                                                         nan_at=[20])
    runner = Runner.from_cfg(Config(cfg))
    with pytest.raises(FloatingPointError,
                       match=f'{optim}: the loss is nan at iteration 3 .*step was not taken'):
        runner.train()
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())


def test_non_finite_rho_during_training_is_an_error_not_nan_weights():
    """rho made inf after construction (e.g. by a param scheduler): w + e is not finite."""
    MessageHub.get_instance('non_finite_rho')  # current, and outside any Runner
    model = ToyConvNet()
    optim = wrapper('SAMOptimWrapper', model=model, rho=0.05)
    for group in optim.optimizer.param_groups:
        group['rho'] = math.inf
    before = params(model)
    with pytest.raises(FloatingPointError, match=r'the loss at w \+ e is nan .*this step'):
        model.train_step(toy_batch(), optim)
    assert all(torch.equal(before[k], p) for k, p in model.named_parameters())


def test_sam_flag_with_infinite_rho_is_refused_before_training(tmp_path):
    cfg = write_cfg(tmp_path, optim='OptimWrapper', epochs=1)
    with pytest.raises(ValueError, match='`rho` must be finite, got inf'):
        run_train([cfg, '--work-dir', str(tmp_path / 'w'), '--sam', 'rho=inf'])
    assert not (tmp_path / 'w' / 'epoch_1.pth').exists()


# -- degenerate but valid settings are said once, at start -----------------------------------

def test_subset_that_rounds_to_the_whole_batch_is_said(tmp_path):
    runner = train(toy_runner_cfg(tmp_path, epochs=1, n=4, batch_size=1, log_level='INFO'))
    log = open(runner.logger.log_file).read()
    assert log.count('ratio=0.5 of batch_size=1 rounds to 1 sample(s), the whole batch') == 1


def test_dataset_smaller_than_a_batch_with_drop_last_is_said(tmp_path):
    cfg = toy_runner_cfg(tmp_path, epochs=1, n=4, batch_size=8, log_level='INFO')
    cfg['train_dataloader']['batch_sampler']['drop_last'] = True
    runner = train(cfg)
    log = open(runner.logger.log_file).read()
    assert log.count('training runs 0 iterations per epoch') == 1
    assert runner.iter == 0


# -- resume after a crash --------------------------------------------------------------------

def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    """tools/train.py --ausam killed (SIGKILL) in the middle of epoch 3; --resume restarts
    from epoch_2.pth and ends where the uninterrupted run ends: weights, scores, draws."""
    cfg = write_cfg(tmp_path, optim='OptimWrapper', epochs=4)
    flags = ['--ausam', 'ratio=0.5', 'ramp_epochs=1']
    straight = run_train([cfg, '--work-dir', str(tmp_path / 'straight'), *flags])
    killer = tmp_path / 'killer_cfg.py'
    killer.write_text(f"_base_ = ['{osp.basename(cfg)}']\n"
                      "custom_imports = dict(imports=['toy', 'faults'])\n"
                      "custom_hooks = [dict(type='KillAtIteration', iteration=10)]\n")
    work = tmp_path / 'killed'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, osp.join(ROOT, 'tests')]),
               OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(killer), '--work-dir',
         str(work), *flags], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (work / 'epoch_2.pth').exists() and not (work / 'epoch_3.pth').exists()
    resumed = run_train([cfg, '--work-dir', str(work), *flags, '--resume'])
    assert resumed.iter == straight.iter == 16
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    ha, hb = straight.optim_wrapper.history, resumed.optim_wrapper.history
    assert torch.equal(ha.total, hb.total) and torch.equal(ha.count, hb.count)


def cifar_cfg(tmp_path, num_workers=0, persistent_workers=False):
    """An upstream mmpretrain CIFAR config, shrunk, on 16 generated images, with its random
    augmentation (RandomCrop with padding, RandomFlip)."""
    images = tmp_path / 'images'
    if not images.exists():
        write_class_images(str(images), n=16, size=32)
    path = tmp_path / f'cifar_{num_workers}_{persistent_workers}.py'
    path.write_text(f"""
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']
model = dict(backbone=dict(base_channels=8, stem_channels=8), head=dict(in_channels=64))
train_dataloader = dict(
    batch_size=8, num_workers={num_workers}, persistent_workers={persistent_workers},
    dataset=dict(_delete_=True, type='CustomDataset', data_root='{images}', pipeline=[
        dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=32, padding=4),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'), dict(type='PackInputs')]))
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=10)
val_dataloader = None
val_cfg = None
val_evaluator = None
randomness = dict(seed=0)
log_level = 'INFO'
""")
    return str(path)


def straight_and_resumed(tmp_path, cfg, flags):
    """3 epochs straight; 2 epochs, then --resume to 3, in another work dir."""
    straight = run_train([cfg, '--work-dir', str(tmp_path / 'straight'), *flags])
    run_train([cfg, '--work-dir', str(tmp_path / 'split'), *flags,
               '--cfg-options', 'train_cfg.max_epochs=2'])
    resumed = run_train([cfg, '--work-dir', str(tmp_path / 'split'), *flags, '--resume'])
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    return resumed, max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


@pytest.mark.parametrize('flags', [[], ['--ausam']], ids=['base', 'ausam'])
def test_resume_with_random_augmentation_in_the_main_process_is_exact(tmp_path, flags):
    """num_workers=0: the augmentation draws from the main process's generators, which
    EpochSeedHook re-seeds per epoch (MMEngine's checkpoints hold no random state)."""
    _, difference = straight_and_resumed(tmp_path, cifar_cfg(tmp_path), flags)
    assert difference == 0


def test_resume_with_random_augmentation_in_workers_is_exact(tmp_path):
    """num_workers=2, not persistent: MMEngine seeds new workers alike in every epoch."""
    _, difference = straight_and_resumed(tmp_path, cifar_cfg(tmp_path, num_workers=2), [])
    assert difference == 0


def test_resume_with_persistent_workers_says_it_is_not_exact(tmp_path):
    """The other side of the line: persistent workers keep their generators across epochs and
    no checkpoint holds them; the resumed run says so (and does differ)."""
    resumed, difference = straight_and_resumed(
        tmp_path, cifar_cfg(tmp_path, num_workers=2, persistent_workers=True), [])
    assert 'will not end bit-identical' in open(resumed.logger.log_file).read()
    assert difference > 0


def test_resume_with_other_options_logs_what_is_used(tmp_path):
    """The resume rule: rho is optimizer state (it resumes, as lr does); the other options
    come from the config; every difference is logged with the value used."""
    cfg = write_cfg(tmp_path, optim='OptimWrapper', epochs=2, log_level='INFO')
    work = str(tmp_path / 'w')
    run_train([cfg, '--work-dir', work, '--sam', 'rho=0.1',
               '--cfg-options', 'train_cfg.max_epochs=1'])
    resumed = run_train([cfg, '--work-dir', work, '--resume', '--sam', 'rho=0.3',
                         'adaptive=True', 'eta=0.02'])
    log = open(resumed.logger.log_file).read()
    assert "rho=0.1 continues from the checkpoint's param groups" in log
    assert "the config's rho=0.3 is not used" in log
    assert "adaptive=True (the config's) is used; the checkpoint ran adaptive=False" in log
    assert "eta=0.02 (the config's) is used; the checkpoint ran eta=0.01" in log
    assert 'ran interval=' not in log and 'ran sync_perturbation' not in log  # unchanged
    assert {g['rho'] for g in resumed.optim_wrapper.optimizer.param_groups} == {0.1}
    assert resumed.optim_wrapper.adaptive is True


def test_resume_on_another_training_set_of_the_same_length_is_refused(tmp_path):
    """The scores are kept with a fingerprint of the data list; other images, same length."""
    cfg = cifar_cfg(tmp_path)
    run_train([cfg, '--work-dir', str(tmp_path / 'w'), '--ausam',
               '--cfg-options', 'train_cfg.max_epochs=1'])
    other = tmp_path / 'other'
    write_class_images(str(other), n=16, size=32)
    for path in sorted(p for p in other.rglob('*') if p.is_file()):
        path.rename(path.with_name('x' + path.name))  # other files, the same count
    with pytest.raises(ValueError, match='saved scores belong to another training set of 16'):
        run_train([cfg, '--work-dir', str(tmp_path / 'w'), '--ausam', '--resume',
                   '--cfg-options', f'train_dataloader.dataset.data_root={other}'])
    moved = tmp_path / 'moved'  # the same images elsewhere: the same training set
    (tmp_path / 'images').rename(moved)
    resumed = run_train([cfg, '--work-dir', str(tmp_path / 'w'), '--ausam', '--resume',
                         '--cfg-options', f'train_dataloader.dataset.data_root={moved}'])
    assert resumed.epoch == 3
