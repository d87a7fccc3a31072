"""``interval=k``: SAM on one optimizer update in k, the base optimizer's step on the others."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.runner import Runner

from ausam_mm.engine import resume_checkpoint_path
from ausam_mm.compat.amp import DeviceAmpOptimWrapper
import faults  # noqa: F401  (registers NaNAtDataset)
from conftest import count_forwards, needs_cpu_amp, params, toy_runner_cfg, train, weights
from toy import ToyConvNet, toy_batch


@pytest.mark.parametrize(
    'kind', ['SAMOptimWrapper', pytest.param('AmpSAMOptimWrapper', marks=needs_cpu_amp)])
def test_interval_updates_are_todays_sam_and_the_others_plain_steps(kind):
    """interval=3 against today's SAM wrapper (interval=1) and MMEngine's OptimWrapper taking
    turns on one optimizer: bit-identical weights, two forwards on SAM steps, one otherwise."""
    torch.manual_seed(0)
    cfg = dict(type=kind, rho=0.5, optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
    if kind.startswith('Amp'):
        cfg.update(dtype='bfloat16')
    model, ref = ToyConvNet(), ToyConvNet()
    ref.load_state_dict(model.state_dict())
    wrapper = build_optim_wrapper(model, dict(cfg, interval=3))
    sam = build_optim_wrapper(ref, cfg)
    if kind.startswith('Amp'):  # the AMP base step (autocast, scaled backward) on the same
        plain = DeviceAmpOptimWrapper(optimizer=sam.optimizer, dtype='bfloat16')  # optimizer
        plain.loss_scaler = sam.loss_scaler
    else:
        plain = OptimWrapper(optimizer=sam.optimizer)  # shares the momentum buffers
    forwards = count_forwards(model)
    per_step, active = [], []
    for step in range(7):
        batch = toy_batch(seed=step)
        before = len(forwards)
        model.train_step(batch, wrapper)
        per_step.append(len(forwards) - before)
        active.append(wrapper.message_hub.get_scalar('train/sam/active').current())
        ref.train_step(batch, sam if step % 3 == 0 else plain)
    assert per_step == [2, 1, 1, 2, 1, 1, 2]
    assert active == [1, 0, 0, 1, 0, 0, 1]
    assert wrapper.optimizer_updates == 7
    a, b = params(model), params(ref)
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]


def test_interval_counts_optimizer_updates_not_micro_batches():
    """With accumulative_counts=2 both micro-batches of an update are SAM, or neither."""
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='SAMOptimWrapper', interval=2,
                                              accumulative_counts=2,
                                              optimizer=dict(type='SGD', lr=0.1)))
    wrapper.initialize_count_status(model, 0, 8)
    forwards = count_forwards(model)
    per_call = []
    for step in range(8):
        before = len(forwards)
        model.train_step(toy_batch(seed=step), wrapper)
        per_call.append(len(forwards) - before)
    assert per_call == [2, 2, 1, 1, 2, 2, 1, 1]
    assert wrapper.optimizer_updates == 4


@pytest.mark.parametrize('bad,error,message', [
    (0, ValueError, '`interval` must be an integer >= 1, got 0'),
    (-2, ValueError, '`interval` must be an integer >= 1, got -2'),
    (1.5, TypeError, r'`interval` must be an integer, got 1.5 \(float\)'),
    (True, TypeError, r'`interval` must be an integer, got True \(bool\)')])
def test_bad_interval_names_the_value(bad, error, message):
    with pytest.raises(error, match=message):
        build_optim_wrapper(ToyConvNet(), dict(type='SAMOptimWrapper', interval=bad,
                                               optimizer=dict(type='SGD', lr=0.1)))


def test_ausam_plain_steps_train_on_the_subset_and_post_no_dlp(tmp_path, runner_cfg):
    """AUSAM, interval=2: the sampler draws the subset on every step (4 of 8 after warm-up);
    only the SAM steps (every other one) run two forwards and post DLPs."""
    cfg = runner_cfg(tmp_path, epochs=3)
    cfg['optim_wrapper']['interval'] = 2
    runner = Runner.from_cfg(Config(cfg))
    forwards = count_forwards(runner.model)
    runner.train()
    # epoch 0 (warm-up, full batches): SAM, plain, SAM, plain; epochs 1-2: halves, same pattern
    assert forwards == [8] * (2 + 1 + 2 + 1) + [4] * (2 + 1 + 2 + 1) * 2
    history = runner.optim_wrapper.history
    assert int(history.count.sum()) == 2 * 8 + 4 * 4  # the samples of the SAM steps only
    assert runner.message_hub.get_scalar('train/sam/active').current() == 0


@pytest.mark.parametrize('optim', ['SAMOptimWrapper', 'AUSAMOptimWrapper'])
def test_resume_continues_the_interval_exactly(tmp_path, runner_cfg, optim):
    """4 updates per epoch, interval=3: the resumed run starts in the middle of a cycle."""
    def cfg(work_dir, epochs, **kw):
        c = runner_cfg(work_dir, optim=optim, epochs=epochs, **kw)
        c['optim_wrapper']['interval'] = 3
        return c
    straight = train(cfg(tmp_path / 'straight', 3))
    train(cfg(tmp_path / 'split', 2))
    load_from = resume_checkpoint_path(str(tmp_path / 'split'), True)
    resumed = Runner.from_cfg(Config(cfg(tmp_path / 'split', 3, resume=True,
                                         load_from=load_from)))
    forwards = count_forwards(resumed.model)
    resumed.train()
    assert len(forwards) == 1 + 4  # it did resume: epoch 3 only, updates 8-11, SAM on 9
    assert resumed.optim_wrapper.optimizer_updates == straight.optim_wrapper.optimizer_updates == 12
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize('optim', ['SAMOptimWrapper', 'AUSAMOptimWrapper', 'ESAMOptimWrapper'])
def test_a_plain_step_keeps_the_non_finite_rule(tmp_path, optim):
    """interval=2, a NaN image in the 2nd batch (a plain step): stopped before that step."""
    cfg = toy_runner_cfg(tmp_path, optim=optim, epochs=1, n=32, batch_size=8,
                         sampler=dict(type='DefaultSampler', shuffle=False))
    cfg['optim_wrapper']['interval'] = 2
    cfg['train_dataloader']['dataset']['dataset'] = dict(type='NaNAtDataset', n=32, nan_at=[12])
    runner = Runner.from_cfg(Config(cfg))
    with pytest.raises(FloatingPointError,
                       match=f'{optim}: the loss is nan at iteration 2 .*step was not taken'):
        runner.train()
    assert runner.optim_wrapper.optimizer_updates == 1
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
