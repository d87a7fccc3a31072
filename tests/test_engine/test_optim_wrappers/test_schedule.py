"""When SAM runs: a late phase (``begin``/``end``) and a random schedule (``probability``)."""
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from ausam_mm.core.schedule import SAMSchedule
from conftest import count_forwards, needs_cpu_amp, toy_runner_cfg, train, weights
from toy import ToyConvNet, toy_batch


class ActiveLog(Hook):
    """``sam/active`` of every training iteration, as the log has it."""

    def __init__(self):
        self.active = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.active.append(int(runner.message_hub.get_scalar('train/sam/active').current()))


def run(cfg):
    """Train ``cfg``; (runner, forward batch sizes, sam/active per iteration)."""
    runner = Runner.from_cfg(Config(cfg))
    log = ActiveLog()
    runner.register_hook(log)
    forwards = count_forwards(runner.model)
    runner.train()
    return runner, forwards, log.active


def sam_cfg(work_dir, epochs=4, optim='SAMOptimWrapper', **options):
    cfg = toy_runner_cfg(work_dir, optim=optim, epochs=epochs, n=32, batch_size=8)
    cfg['optim_wrapper'].update(options)
    return cfg


@pytest.mark.parametrize('options', [dict(begin=0.75), dict(begin=3),
                                     dict(begin=12, by_epoch=False)],
                         ids=['fraction', 'epoch', 'iteration'])
def test_late_phase_sam_base_steps_in_epochs_1_to_3_sam_in_epoch_4(tmp_path, options):
    """4 epochs of 4 updates, SAM from 75 %: one forward per step and sam/active 0 in epochs
    1-3, two forwards and sam/active 1 in epoch 4; after epoch 3 the weights are those of
    MMEngine's OptimWrapper trained 3 epochs (its steps, exactly)."""
    runner, forwards, active = run(sam_cfg(tmp_path / 'late', **options))
    assert len(forwards) == 12 * 1 + 4 * 2
    assert active == [0] * 12 + [1] * 4
    assert runner.optim_wrapper.sam_phase() == (12, None)
    base = toy_runner_cfg(tmp_path / 'base', optim='OptimWrapper', epochs=3, n=32, batch_size=8)
    base_weights = weights(train(base))
    after_3 = torch.load(tmp_path / 'late' / 'epoch_3.pth', weights_only=False)['state_dict']
    assert all(torch.equal(after_3[k], base_weights[k]) for k in base_weights)


def test_a_middle_phase_ends_with_base_steps(tmp_path):
    """begin=1, end=3 (epochs): SAM in epochs 2 and 3 only."""
    _, forwards, active = run(sam_cfg(tmp_path, begin=1, end=3))
    assert active == [0] * 4 + [1] * 8 + [0] * 4
    assert len(forwards) == 4 + 16 + 4


def resume_from(cfg, checkpoint):
    """``cfg`` resumed from ``checkpoint`` (of a run of the same config, so that fractions of
    the training mean the same iterations)."""
    return dict(cfg, resume=True, load_from=str(checkpoint))


def test_random_schedule_repeats_its_draws_and_resumes_them(tmp_path):
    """probability=0.5: a mix of SAM and base steps (forwards follow sam/active), the same
    draws on a rerun, and after --resume the draws and weights of the straight run."""
    straight, forwards, first = run(sam_cfg(tmp_path / 'a', epochs=3, probability=0.5))
    _, _, again = run(sam_cfg(tmp_path / 'b', epochs=3, probability=0.5))
    assert first == again and 0 < sum(first) < len(first)
    assert len(forwards) == len(first) + sum(first)
    resumed, _, tail = run(resume_from(sam_cfg(tmp_path / 'c', epochs=3, probability=0.5),
                                       tmp_path / 'a' / 'epoch_2.pth'))
    assert tail == first[8:]  # it did resume: epoch 3 only
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_draws_follow_the_seed_in_state_dict():
    """Two wrappers with other seeds draw differently; loading one's state makes the other
    draw as it does (what a resume relies on)."""
    def drawn(wrapper):
        return [SAMSchedule(probability=0.5).draw(wrapper.sam_schedule.seed, u) for u in range(64)]
    cfg = dict(type='SAMOptimWrapper', probability=0.5, optimizer=dict(type='SGD', lr=0.1))
    import numpy as np
    np.random.seed(1)
    one = build_optim_wrapper(ToyConvNet(), cfg)
    np.random.seed(2)
    two = build_optim_wrapper(ToyConvNet(), cfg)
    assert drawn(one) != drawn(two)
    two.load_state_dict(one.state_dict())
    assert drawn(one) == drawn(two)


@pytest.mark.parametrize('num_workers', [0, 2])
def test_late_ausam_full_batches_and_base_steps_before_its_phase(tmp_path, num_workers):
    """AUSAM 0.5 from epoch 2 of 4 (1 warm-up epoch): epochs 0-1 full batches, one forward;
    epoch 2 the warm-up (full batches, SAM); epoch 3 half batches, SAM. Scores only from the
    phase. With DataLoader workers (batches drawn ahead) the same."""
    cfg = sam_cfg(tmp_path, optim='AUSAMOptimWrapper', begin=2)
    cfg['train_dataloader'].update(num_workers=num_workers,
                                   persistent_workers=num_workers > 0)
    runner, forwards, active = run(cfg)
    assert forwards == [8] * 8 + [8] * 8 + [4] * 8
    assert active == [0] * 8 + [1] * 8
    history = runner.optim_wrapper.history
    assert int(history.count.sum()) == 32 + 16
    assert runner.train_dataloader.batch_sampler.start_iter == 8


def test_late_ausam_resumes_into_its_phase(tmp_path):
    """Resumed after epoch 1 of a late AUSAM run (from 50 %, no score yet): the warm-up, the
    draws and the weights of the straight run."""
    cfg = sam_cfg(tmp_path / 'straight', optim='AUSAMOptimWrapper', begin=0.5)
    straight, _, active = run(cfg)
    resumed, forwards, tail = run(resume_from(
        sam_cfg(tmp_path / 'resumed', optim='AUSAMOptimWrapper', begin=0.5),
        tmp_path / 'straight' / 'epoch_1.pth'))
    assert tail == active[4:] == [0] * 4 + [1] * 8
    assert forwards == [8] * 4 + [8] * 8 + [4] * 8
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize('options,error,message', [
    (dict(begin=3.0), ValueError, r'`begin=3.0` is a float, read as a fraction .* write '
                                  r'begin=3 for epoch 3'),
    (dict(end=-0.5), ValueError, r'`end=-0.5` is a float, read as a fraction'),
    (dict(begin=-1), ValueError, '`begin` must be an integer >= 0, got -1'),
    (dict(begin=0.5, end=0.25), ValueError, 'must be after `begin`, got begin=0.5, end=0.25'),
    (dict(begin=0.5, by_epoch=False), ValueError, '`by_epoch=False` .* has no effect'),
    (dict(probability=0), ValueError, r'`probability` must be in \(0, 1\], got 0'),
    (dict(probability=1.5), ValueError, r'`probability` must be in \(0, 1\], got 1.5'),
    (dict(begin='late'), TypeError, "`begin` must be a number, got 'late'")])
def test_bad_schedule_options_name_the_value(options, error, message):
    with pytest.raises(error, match=message):
        build_optim_wrapper(ToyConvNet(), dict(type='SAMOptimWrapper', **options,
                                               optimizer=dict(type='SGD', lr=0.1)))


def test_a_phase_past_the_training_stops_before_the_first_step(tmp_path):
    """begin=4 of 4 epochs: the run stops at its first step, saying so, with no step taken."""
    runner = Runner.from_cfg(Config(sam_cfg(tmp_path, begin=4)))
    with pytest.raises(ValueError, match=r'SAM never runs: begin=4 \(an epoch\) is at or past '
                                         r'the end of the training \(4 epoch'):
        runner.train()


@pytest.mark.parametrize('kind', ['SAMOptimWrapper', 'ESAMOptimWrapper',
                                  pytest.param('AmpSAMOptimWrapper', marks=needs_cpu_amp)])
@pytest.mark.parametrize('options,expected', [
    (dict(begin=3, by_epoch=False), [0, 0, 0, 0, 1, 1, 1, 1]),  # rounded up to update 2
    (dict(begin=0.5, interval=2), [0, 0, 0, 0, 1, 1, 0, 0]),
    (dict(begin=0.25, end=0.75), [0, 0, 1, 1, 1, 1, 0, 0])])
def test_the_phase_holds_whole_updates_and_combines_with_interval(kind, options, expected):
    """8 iterations, accumulative_counts=2: every micro-batch of an update alike, the phase
    rounded up to the start of an update, interval counting updates over the whole run."""
    cfg = dict(type=kind, accumulative_counts=2, optimizer=dict(type='SGD', lr=0.1), **options)
    if kind.startswith('Amp'):
        cfg.update(dtype='bfloat16')
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, cfg)
    wrapper.initialize_count_status(model, 0, 8)
    active = []
    for step in range(8):
        model.train_step(toy_batch(seed=step), wrapper)
        active.append(int(wrapper.message_hub.get_scalar('train/sam/active').current()))
    assert active == expected
    assert wrapper.optimizer_updates == 4
