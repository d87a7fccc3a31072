"""The one converter of older checkpoints (ausam_mm/engine/upgrade.py), on a checkpoint that
ausam_mm 0.1.0 wrote (tests/data/ckpt_v0_1, made by tests/make_ckpt_v0_1.py)."""
import os
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from ausam_mm.engine import load_checkpoint_file
from ausam_mm.engine.upgrade import upgrade_ausam_state, upgrade_optimizer_state
from conftest import DATA, assert_resumed, train, weights
from make_ckpt_v0_1 import ckpt_v0_1_cfg

FIXTURE = os.path.join(DATA, 'ckpt_v0_1', 'epoch_2.pth')
#: the torch releases whose straight run ends within FIXTURE_DRIFT of the fixture's (written by
#: torch 2.14.1; 2.15.0 checked); older ones compute other first epochs
FIXTURE_TORCHES = ('2.14', '2.15')
#: how far floats computed from the fixture may lie from this machine's straight run: measured
#: on an AVX-512 machine against the fixture's AVX2 one, 3e-6 relative in the scores and 5e-8
#: absolute in the weights (|w| ~ 0.2) after 6 updates; the bounds allow 30x that (a converter
#: that misplaced a score or a step would be off by far more)
FIXTURE_DRIFT = dict(rtol=1e-4, atol=1e-6)


def _resume(work_dir, checkpoint):
    """Resume :func:`ckpt_v0_1_cfg` from ``checkpoint`` (a copy in ``work_dir``) to epoch 3."""
    work_dir.mkdir()
    if isinstance(checkpoint, dict):
        torch.save(checkpoint, work_dir / 'epoch_2.pth')
    else:
        shutil.copy(checkpoint, work_dir / 'epoch_2.pth')
    runner = train(ckpt_v0_1_cfg(work_dir, resume=True, load_from=str(work_dir / 'epoch_2.pth'),
                                 log_level='INFO'))
    assert_resumed(runner, 2, 4)
    return runner


def test_checkpoint_of_0_1_0_resumes_exactly_through_the_converter(tmp_path):
    old = load_checkpoint_file(FIXTURE)
    assert 'sampler_options' in old['ausam'] and 'sam_updates' in old['optimizer']  # 0.1.0's
    resumed = _resume(tmp_path / 'resumed', FIXTURE)
    # the same state written in today's layout, field by field as 0.1.0 named it
    ahead = old['ausam']['draws_ahead']
    today = dict(old, ausam=dict(history=old['ausam']['history'],
                                 start_iter=old['ausam']['start_iter'],
                                 options=old['ausam']['sampler_options'],
                                 draws_ahead=ahead['draws'], world_size=ahead['world_size']))
    today['optimizer'] = {('optimizer_updates' if k == 'sam_updates' else k): v
                          for k, v in old['optimizer'].items()}
    direct = _resume(tmp_path / 'today', today)
    assert resumed.optim_wrapper.optimizer_updates == direct.optim_wrapper.optimizer_updates == 6
    ha, hb = direct.optim_wrapper.history, resumed.optim_wrapper.history
    assert torch.equal(ha.count, hb.count) and torch.equal(ha.total, hb.total)
    a, b = weights(direct), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    if torch.__version__.startswith(FIXTURE_TORCHES):
        # and both end where the straight run of this machine ends (another torch computes
        # other first epochs). The fixture's two epochs were computed on another CPU, whose
        # float kernels round differently (AVX2 vs AVX-512), so floats are compared within
        # FIXTURE_DRIFT, the drift of those epochs' float32 training; the counts are integers.
        straight = train(ckpt_v0_1_cfg(tmp_path / 'straight'))
        assert straight.optim_wrapper.optimizer_updates == 6
        hs, s = straight.optim_wrapper.history, weights(straight)
        assert torch.equal(hs.count, hb.count)
        torch.testing.assert_close(hb.total, hs.total, **FIXTURE_DRIFT)
        for k in s:
            torch.testing.assert_close(b[k], s[k], **FIXTURE_DRIFT)
    # what the resumed run writes is today's format, which the converter leaves as it is
    new = load_checkpoint_file(str(tmp_path / 'resumed' / 'epoch_3.pth'))
    assert set(new['ausam']) == {'history', 'start_iter', 'options', 'draws_ahead', 'world_size'}
    assert upgrade_ausam_state(new['ausam']) is new['ausam']
    assert upgrade_optimizer_state(new['optimizer']) is new['optimizer']
    assert new['optimizer']['optimizer_updates'] == 6 and 'sam_updates' not in new['optimizer']
    assert upgrade_ausam_state(old['ausam'])['options'] == old['ausam']['sampler_options']


def test_checkpoint_of_0_1_0_with_a_config_without_the_hook_fails_naming_it(tmp_path):
    """Resumed with no AUSAMHook (a hand-written config), the scores would not be restored:
    the first draw raises, naming the config line, before any step."""
    shutil.copy(FIXTURE, tmp_path / 'epoch_2.pth')
    runner = Runner.from_cfg(Config(ckpt_v0_1_cfg(
        tmp_path, resume=True, load_from=str(tmp_path / 'epoch_2.pth'), custom_hooks=[])))
    with pytest.raises(RuntimeError, match=r"AUSAMBatchSampler is not linked(.|\n)*"
                                           r"custom_hooks = \[dict\(type='AUSAMHook'\)\]"):
        runner.train()
    assert runner.iter == 4
