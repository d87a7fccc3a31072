"""Which checkpoints load, and how: every file goes through the allow-list unpickler, so an own
checkpoint loads by ``load_from`` and ``--resume`` and no file runs code; damaged or moved
checkpoints give a clear choice (ausam_mm.compat.checkpoint, tools/train.py)."""
import os
import pickle
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner

from ausam_mm.engine import find_resume_checkpoint, load_checkpoint_file
from conftest import run_train as run
from conftest import log_of, state, toy_runner_cfg, write_cfg
from faults import MARKER, ForeignPickle


@pytest.fixture
def marker():
    if os.path.exists(MARKER):
        os.remove(MARKER)
    yield MARKER
    if os.path.exists(MARKER):
        os.remove(MARKER)


def plant(path):
    """A checkpoint-shaped file whose ``meta`` runs the payload if unpickled in full."""
    torch.save({'state_dict': {}, 'meta': {'payload': ForeignPickle()}}, str(path))


@pytest.fixture
def toy_cfg(tmp_path):
    return write_cfg(tmp_path, optim='SAMOptimWrapper', epochs=2, log_level='INFO')


# -- what loads ------------------------------------------------------------------------------

def test_allow_list_admits_mmengine_metadata_and_refuses_the_rest(tmp_path, marker):
    ok = tmp_path / 'ok.pth'
    buffer = HistoryBuffer()
    buffer.update(1.5)
    meta = dict(buffer=buffer, array=np.arange(3, dtype=np.float32), scalar=np.float64(2.0),
                ints=np.int64(7), counter=__import__('collections').Counter(a=1), text='t')
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': meta}, str(ok))
    loaded = load_checkpoint_file(str(ok))
    assert loaded['meta']['buffer'].current() == 1.5
    assert loaded['meta']['array'].dtype == np.float32 and loaded['meta']['scalar'] == 2.0
    bad = tmp_path / 'bad.pth'
    plant(bad)
    with pytest.raises(pickle.UnpicklingError) as err:
        load_checkpoint_file(str(bad))
    message = str(err.value)
    assert str(bad) in message and "'posix.system'" in message
    assert 'weights_only' in message and 'load_from' in message  # how to keep the weights
    assert not os.path.exists(marker)
    reach = tmp_path / 'reach.pth'  # HistoryBuffer's getattr, used to reach something else
    torch.save({'meta': _GetattrOf(HistoryBuffer, 'register_statistics')}, str(reach))
    with pytest.raises(pickle.UnpicklingError, match="getattr.'HistoryBuffer', "
                                                     "'register_statistics'"):
        load_checkpoint_file(str(reach))


class _GetattrOf:
    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return (getattr, (self.owner, self.name))


def test_load_from_an_own_float_checkpoint_into_brevitas_qat(tmp_path):
    """Train in float, then QAT (BrevitasQATModel) with load_from of the float checkpoint."""
    pytest.importorskip('brevitas')
    float_run = Runner.from_cfg(Config(toy_runner_cfg(tmp_path / 'float', optim='OptimWrapper',
                                                      epochs=1)))
    float_run.train()
    trained = state(float_run.model)
    path = str(tmp_path / 'float' / 'epoch_1.pth')
    qat_cfg = toy_runner_cfg(
        tmp_path / 'qat', optim='SAMOptimWrapper', epochs=1, load_from=path,
        model=dict(type='BrevitasQATModel', model=dict(type='ToyConvNet'),
                   weight_bit_width=4, act_bit_width=4, collect_stats_steps=2))
    qat = Runner.from_cfg(Config(qat_cfg))
    qat.load_checkpoint(path)  # what Runner.train() does with load_from
    loaded = state(qat.model)
    for key in ('features.0.weight', 'features.1.running_mean', 'head.weight', 'head.bias'):
        assert torch.equal(loaded[key], trained[key]), key
    assert type(qat.model.features[0]).__name__ == 'QuantConv2d'  # a quantized model
    qat.train()
    assert np.isfinite(qat.message_hub.get_scalar('train/loss').current())


@pytest.mark.parametrize('flag', [[], ['--ausam']])
def test_resume_from_a_checkpoint_outside_the_work_dir(tmp_path, toy_cfg, flag):
    """Nothing is unpickled in full any more, so --resume takes a checkpoint from anywhere."""
    run([toy_cfg, '--work-dir', str(tmp_path / 'a'), *flag,
         '--cfg-options', 'train_cfg.max_epochs=1'])
    resumed = run([toy_cfg, '--work-dir', str(tmp_path / 'b'), *flag,
                   '--resume', str(tmp_path / 'a' / 'epoch_1.pth')])
    assert resumed.epoch == 2 and resumed.iter == 8


# -- what never runs -------------------------------------------------------------------------

@pytest.mark.parametrize('how', ['path', 'latest'])
def test_planted_pickle_in_the_work_dir_does_not_run(tmp_path, toy_cfg, marker, how):
    work = tmp_path / 'w'
    run([toy_cfg, '--work-dir', str(work), '--cfg-options', 'train_cfg.max_epochs=1'])
    planted = work / 'epoch_5.pth'  # downloaded into the work dir, newest by its name
    plant(planted)
    if how == 'latest':
        (work / 'last_checkpoint').write_text(str(planted))
    resume = ['--resume', str(planted)] if how == 'path' else ['--resume']
    with pytest.raises(pickle.UnpicklingError, match="'posix.system'"):
        run([toy_cfg, '--work-dir', str(work), *resume])
    assert not os.path.exists(marker)


def test_dumped_config_rerun_elsewhere_does_not_unpickle_in_full(tmp_path, toy_cfg, marker):
    first = tmp_path / 'first'
    run([toy_cfg, '--work-dir', str(first), '--cfg-options', 'train_cfg.max_epochs=1'])
    run([toy_cfg, '--work-dir', str(first), '--resume'])
    dumped = first / os.path.basename(toy_cfg)
    text = dumped.read_text()
    assert 'own-run://' not in text and str(first / 'epoch_1.pth') in text
    plant(first / 'epoch_1.pth')  # the first run's file, replaced after the fact
    with pytest.raises(pickle.UnpicklingError, match="'posix.system'"):
        run([str(dumped), '--work-dir', str(tmp_path / 'second')])
    assert not os.path.exists(marker)


# -- damaged, moved --------------------------------------------------------------------------

@pytest.mark.parametrize('damage', ['empty', 'truncated'])
def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, toy_cfg, damage):
    work = tmp_path / 'w'
    run([toy_cfg, '--work-dir', str(work)])
    latest = work / 'epoch_2.pth'
    data = latest.read_bytes()
    latest.write_bytes(b'' if damage == 'empty' else data[:len(data) // 2])
    resumed = run([toy_cfg, '--work-dir', str(work), '--resume',
                   '--cfg-options', 'train_cfg.max_epochs=3'])
    assert resumed.epoch == 3 and resumed.iter == 12  # epoch 2 and 3 trained again
    log = log_of(resumed)
    assert f'checkpoint {latest} is {"empty" if damage == "empty" else "truncated"}' in log
    # the run goes on from an earlier point than asked for: a warning that names both files
    fallback = [line for line in log.splitlines()
                if f'resuming from {work / "epoch_1.pth"} instead of {latest}' in line]
    assert len(fallback) == 1 and ' - WARNING - ' in fallback[0], fallback


def test_damaged_checkpoint_named_explicitly_is_refused_with_its_name(tmp_path, toy_cfg):
    work = tmp_path / 'w'
    run([toy_cfg, '--work-dir', str(work), '--cfg-options', 'train_cfg.max_epochs=1'])
    empty = work / 'epoch_1.pth'
    empty.write_bytes(b'')
    for argv in (['--resume', str(empty)], ['--cfg-options', f'load_from={empty}']):
        with pytest.raises(RuntimeError,
                           match=re.escape(f'checkpoint {empty} is empty') + '.*Delete it'):
            run([toy_cfg, '--work-dir', str(tmp_path / 'other'), *argv])
    with pytest.raises(RuntimeError, match=r'no intact checkpoint in .*pass --resume PATH'):
        find_resume_checkpoint(str(work))


def test_moved_work_dir_resumes_from_its_new_place(tmp_path, toy_cfg):
    old = tmp_path / 'old'
    run([toy_cfg, '--work-dir', str(old), '--cfg-options', 'train_cfg.max_epochs=1'])
    assert (old / 'last_checkpoint').read_text().strip() == str(old / 'epoch_1.pth')
    new = tmp_path / 'new'
    shutil.copytree(old, new)
    shutil.rmtree(old)
    resumed = run([toy_cfg, '--work-dir', str(new), '--resume'])
    assert resumed.epoch == 2 and resumed.iter == 8
    assert f'resuming {new / "epoch_1.pth"}, the file of that name in this work dir' in \
        log_of(resumed)


def test_a_copied_work_dir_resumes_its_own_checkpoint_not_the_original(tmp_path, toy_cfg):
    """``cp -r A B`` while A is still there: B's ``last_checkpoint`` names A's file, and B's
    resume takes B's own copy (a warning names both); A's file is never read."""
    a, b = tmp_path / 'A', tmp_path / 'B'
    run([toy_cfg, '--work-dir', str(a), '--cfg-options', 'train_cfg.max_epochs=2'])
    shutil.copytree(a, b)
    (a / 'epoch_2.pth').write_bytes(b'')  # A's file damaged: reading it would fail
    resumed = run([toy_cfg, '--work-dir', str(b), '--resume', '--cfg-options',
                   'train_cfg.max_epochs=3'])
    assert resumed.epoch == 3
    log = log_of(resumed)
    assert (f'WARNING - [ausam_mm] --resume: {b / "last_checkpoint"} names {a / "epoch_2.pth"}, '
            f'outside this work dir (was it moved or copied?); resuming {b / "epoch_2.pth"}') in log
    assert f'Load checkpoint from {b / "epoch_2.pth"}' in log


def test_an_outside_checkpoint_named_by_last_checkpoint_is_loaded_with_a_warning(
        tmp_path, toy_cfg):
    a, b = tmp_path / 'A', tmp_path / 'B'
    run([toy_cfg, '--work-dir', str(a), '--cfg-options', 'train_cfg.max_epochs=1'])
    b.mkdir()
    (b / 'last_checkpoint').write_text(str(a / 'epoch_1.pth'))  # B holds no checkpoint
    resumed = run([toy_cfg, '--work-dir', str(b), '--resume'])
    assert resumed.epoch == 2
    assert (f'{b / "last_checkpoint"} names {a / "epoch_1.pth"}, outside this work dir, which '
            'has no file of that name: resuming that outside file') in log_of(resumed)


IMPORTED_LOADER = ("import ausam_mm; from mmengine.runner.checkpoint import CheckpointLoader; "
                   "print(CheckpointLoader._get_checkpoint_loader('/some/epoch_1.pth').__module__)")


@pytest.mark.parametrize('value,module', [(None, 'ausam_mm.compat.checkpoint'),
                                          ('1', 'ausam_mm.compat.checkpoint'),
                                          ('0', 'mmengine.runner.checkpoint')])
def test_import_replaces_the_local_loader_unless_opted_out(value, module):
    """``import ausam_mm`` registers the allow-list loader for local files;
    AUSAM_MM_CHECKPOINT_LOADER=0 keeps MMEngine's own (README, the checkpoint module)."""
    env = {k: v for k, v in os.environ.items() if k != 'AUSAM_MM_CHECKPOINT_LOADER'}
    if value is not None:
        env['AUSAM_MM_CHECKPOINT_LOADER'] = value
    out = subprocess.run([sys.executable, '-c', IMPORTED_LOADER], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[-1] == module


def test_a_bad_opt_out_value_is_refused_naming_the_variable():
    env = dict(os.environ, AUSAM_MM_CHECKPOINT_LOADER='no')
    done = subprocess.run([sys.executable, '-c', 'import ausam_mm'], env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "AUSAM_MM_CHECKPOINT_LOADER must be 0" in done.stderr and "got 'no'" in done.stderr
