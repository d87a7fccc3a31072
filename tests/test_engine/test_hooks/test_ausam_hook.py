"""AUSAMHook, the link between AUSAMBatchSampler and AUSAMOptimWrapper, in real Runners:
pairing errors that name the config lines, the epoch it gives the sampler, checkpoints."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from ausam_mm.core.selection import AUSAMScore
from ausam_mm.engine import resume_checkpoint_path
from ausam_mm.engine.convert import to_sam
from conftest import assert_resumed, ausam_sampler, log_of, train, weights
from toy import ToyConvNet, toy_batch

HOOK_LINE = r"custom_hooks = \[dict\(type='AUSAMHook'\)\]"


def selected_per_iter(runner):
    """The subset size of every iteration of the run, from the MessageHub's history."""
    return runner.message_hub.get_scalar('train/ausam/selected').data[0].astype(int).tolist()


def no_seed_hook(runner_cfg, work_dir, **kwargs):
    return runner_cfg(work_dir, default_hooks=dict(sampler_seed=None, checkpoint=None,
                                                   logger=dict(type='LoggerHook', interval=1)),
                      **kwargs)


# -- the epoch --------------------------------------------------------------------------------

def test_without_sampler_seed_hook_warm_up_and_ramp_follow_the_runner_epoch(
        tmp_path, runner_cfg):
    """default_hooks.sampler_seed=None: exactly warmup_epochs of full batches, then subsets,
    and the f_max ramp advances epoch by epoch (32 samples, batches of 8: 4 per epoch)."""
    cfg = no_seed_hook(runner_cfg, tmp_path, epochs=4)
    cfg['train_dataloader']['batch_sampler'].update(warmup_epochs=2, ramp_epochs=2)
    runner = train(cfg)
    assert selected_per_iter(runner) == [8] * 8 + [4] * 8
    f_max = runner.message_hub.get_scalar('train/ausam/f_max').data[0].tolist()
    assert f_max == pytest.approx([0.1 + 0.4 * 2 / 2] * 4 + [0.5] * 4)  # AUSAM epochs 2, 3
    assert int(runner.optim_wrapper.history.count.sum()) == 2 * 32 + 2 * 16


@pytest.mark.parametrize('sampler', ['DefaultSampler', 'InfiniteSampler'])
def test_iteration_based_loop_counts_passes_as_epochs(tmp_path, runner_cfg, sampler):
    cfg = no_seed_hook(runner_cfg, tmp_path, train_cfg=dict(by_epoch=False, max_iters=12),
                       sampler=dict(type=sampler, shuffle=True))
    cfg['train_dataloader']['batch_sampler'].update(warmup_epochs=1, ramp_epochs=0)
    runner = train(cfg)
    assert selected_per_iter(runner) == [8] * 4 + [4] * 8


# -- pairing errors ---------------------------------------------------------------------------

def test_two_runners_built_in_any_order_keep_their_own_histories(tmp_path, runner_cfg):
    a = Runner.from_cfg(Config(runner_cfg(tmp_path / 'a', epochs=2, n=32)))
    b = Runner.from_cfg(Config(runner_cfg(tmp_path / 'b', epochs=2, n=24)))
    b.train()  # built last, trained first
    a.train()
    assert a.optim_wrapper.history is a.train_dataloader.batch_sampler.history
    assert b.optim_wrapper.history is b.train_dataloader.batch_sampler.history
    assert a.optim_wrapper.history.size == 32 and b.optim_wrapper.history.size == 24
    assert int(a.optim_wrapper.history.count.sum()) == 32 + 16
    assert int(b.optim_wrapper.history.count.sum()) == 24 + 12


def test_wrapper_without_sampler_names_the_config_lines(tmp_path, runner_cfg):
    cfg = runner_cfg(tmp_path, epochs=1)
    cfg['train_dataloader'].pop('batch_sampler')
    with pytest.raises(RuntimeError, match=r"found BatchSampler(.|\n)*"
                                           r"batch_sampler=dict\(type='AUSAMBatchSampler'"):
        train(cfg)
    # a wrapper built outside a Runner has no history until AUSAMHook gives it one
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='AUSAMOptimWrapper',
                                              optimizer=dict(type='SGD', lr=0.1)))
    with pytest.raises(RuntimeError, match=r'AUSAMOptimWrapper is not linked(.|\n)*' + HOOK_LINE):
        model.train_step(toy_batch(), wrapper)


@pytest.mark.parametrize('optim', ['OptimWrapper', 'SAMOptimWrapper'])
def test_sampler_with_a_wrapper_that_posts_no_scores_is_refused_at_start(
        tmp_path, runner_cfg, optim):
    cfg = runner_cfg(tmp_path, epochs=2)
    cfg['optim_wrapper']['type'] = optim
    if optim == 'OptimWrapper':
        cfg['optim_wrapper'].pop('rho')
    runner = Runner.from_cfg(Config(cfg))
    with pytest.raises(RuntimeError, match=f'optim_wrapper.type is {optim}(.|\\n)*'
                                           r"type='AUSAMOptimWrapper'(.|\n)*--sam"):
        runner.train()
    assert runner.iter == 0


@pytest.mark.parametrize('optim', ['AUSAMOptimWrapper', 'SAMOptimWrapper'])
@pytest.mark.parametrize('loop', ['epoch', 'iteration', 'iteration-short-epoch'])
def test_sampler_without_hook_refuses_before_training(tmp_path, runner_cfg, optim, loop):
    """No hook at all (a hand-written config): the first draw of the training loop raises,
    before any step, the warm-up's full batches included (also with workers that prefetch
    draws before any hook runs, within the warm-up epoch or, with an epoch of 2 batches,
    past it)."""
    kwargs = (dict(epochs=2) if loop == 'epoch' else
              dict(train_cfg=dict(by_epoch=False, max_iters=12), num_workers=2,
                   n=64 if loop == 'iteration' else 16,
                   sampler=dict(type='InfiniteSampler', shuffle=True)))
    cfg = runner_cfg(tmp_path, custom_hooks=[], **kwargs)
    cfg['optim_wrapper']['type'] = optim
    runner = Runner.from_cfg(Config(cfg))
    with pytest.raises(RuntimeError, match=r'AUSAMBatchSampler is not linked(.|\n)*' + HOOK_LINE):
        runner.train()
    assert runner.iter == 0
    assert 'train/loss' not in runner.message_hub.log_scalars  # no step at all


def test_sam_flag_on_an_ausam_config_trains_full_batches(tmp_path, runner_cfg):
    cfg = Config(runner_cfg(tmp_path, epochs=1))
    changes = to_sam(cfg)
    assert 'batch_sampler' not in cfg.train_dataloader and cfg.custom_hooks == []
    assert cfg.train_dataloader.dataset.type == 'ToyImageDataset'
    assert cfg.optim_wrapper.type == 'SAMOptimWrapper' and len(changes) >= 4
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4  # 32 samples in full batches of 8


# -- checkpoints ------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """AUSAM 3 epochs straight, and 2 epochs in another work dir (resumed by the tests)."""
    from conftest import toy_runner_cfg
    root = tmp_path_factory.mktemp('hook_runs')
    straight = train(toy_runner_cfg(root / 'straight', epochs=3))
    train(toy_runner_cfg(root / 'split', epochs=2))
    return dict(straight=straight, root=root)


def resume_cfg(runs, name, checkpoint=None, **kwargs):
    """The 3-epoch config that resumes the split run (or ``checkpoint`` in its own dir)."""
    from conftest import toy_runner_cfg
    work_dir = runs['root'] / name
    if checkpoint is not None:
        work_dir.mkdir()
        torch.save(checkpoint, work_dir / 'epoch_2.pth')
    load_from = resume_checkpoint_path(str(work_dir), str(work_dir / 'epoch_2.pth'))
    assert load_from == str(work_dir / 'epoch_2.pth')  # a plain path
    return toy_runner_cfg(work_dir, epochs=3, resume=True, load_from=load_from, **kwargs)


def split_checkpoint(runs):
    return torch.load(runs['root'] / 'split' / 'epoch_2.pth', weights_only=False)


def assert_same_run(a, b):
    assert_resumed(b, 2, 8)
    wa, wb = weights(a), weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    ha, hb = a.optim_wrapper.history, b.optim_wrapper.history
    assert torch.equal(ha.total, hb.total) and torch.equal(ha.count, hb.count)
    assert selected_per_iter(a) == selected_per_iter(b)


def test_checkpoint_carries_history_and_resume_is_bit_exact(runs):
    ckpt = split_checkpoint(runs)
    assert 'ausam_history' not in ckpt['optimizer']
    assert ckpt['ausam']['start_iter'] == 0 and int(ckpt['ausam']['history']['count'].sum()) == 48
    resumed = train(resume_cfg(runs, 'split', log_level='INFO'))
    assert_same_run(runs['straight'], resumed)


def test_resume_with_another_beta_says_which_one_is_used(runs):
    cfg = resume_cfg(runs, 'beta', split_checkpoint(runs), log_level='INFO')
    cfg['train_dataloader']['batch_sampler']['beta'] = 0.5
    runner = train(cfg)
    log = log_of(runner)
    assert 'history has beta=None, the config beta=0.5' in log
    assert runner.optim_wrapper.history.beta is None


def test_resume_with_other_sampler_options_logs_what_is_used(runs):
    """The resume rule for the sampler: its options come from the config (state - the scores,
    AUSAM's start - from the checkpoint); each one that differs is logged with the value used."""
    cfg = resume_cfg(runs, 'sampler_options', split_checkpoint(runs), log_level='INFO')
    cfg['train_dataloader']['batch_sampler'].update(ratio=0.25, f_max=0.6)
    runner = train(cfg)
    assert_resumed(runner, 2, 8)
    log = log_of(runner)
    assert ("AUSAMBatchSampler resumed: ratio=0.25 (the config's) is used; the checkpoint ran "
            'ratio=0.5') in log
    assert "f_max=0.6 (the config's) is used; the checkpoint ran f_max=0.5" in log
    assert 'ran f_min=' not in log and 'ran warmup_epochs=' not in log  # unchanged
    assert selected_per_iter(runner)[-4:] == [2] * 4  # the config's ratio draws 2 of 8
    # a checkpoint written before the options were saved resumes without a word on them
    old = split_checkpoint(runs)
    state = old['ausam']  # in the layout of ausam_mm 0.1.0 before it saved the options
    old['ausam'] = dict(history=state['history'], start_iter=state['start_iter'],
                        draws_ahead=dict(draws={}, world_size=1))
    cfg = resume_cfg(runs, 'sampler_options_old', old, log_level='INFO')
    cfg['train_dataloader']['batch_sampler'].update(ratio=0.25)
    runner = train(cfg)
    assert_resumed(runner, 2, 8)
    assert 'AUSAMBatchSampler resumed' not in log_of(runner)


def test_ausam_resumed_from_a_sam_checkpoint_warms_up_first(tmp_path, runner_cfg):
    """A SAM checkpoint has no scores: AUSAM warms up from the resumed epoch, then samples."""
    train(runner_cfg(tmp_path, optim='SAMOptimWrapper', epochs=2))
    load_from = resume_checkpoint_path(str(tmp_path), True)
    cfg = runner_cfg(tmp_path, epochs=4, resume=True, load_from=load_from, log_level='INFO')
    runner = train(cfg)
    assert selected_per_iter(runner) == [8] * 4 + [4] * 4  # epoch 2 full, epoch 3 halves
    assert int(runner.optim_wrapper.history.count.sum()) == 32 + 16
    log = log_of(runner)
    assert 'holds no AUSAM scores' in log and 'AUSAM starts at epoch 2 (iteration 8)' in log
    ckpt = torch.load(tmp_path / 'epoch_4.pth', weights_only=False)
    assert ckpt['ausam']['start_iter'] == 8  # a later resume keeps counting from there


def test_load_from_an_ausam_checkpoint_starts_a_fresh_history(runs, tmp_path):
    """load_from (fine-tuning) takes weights only; the new run scores from scratch."""
    from conftest import toy_runner_cfg
    split = runs['root'] / 'split'
    runner = train(toy_runner_cfg(tmp_path, epochs=1, load_from=resume_checkpoint_path(
        str(split), str(split / 'epoch_2.pth'))))
    assert int(runner.optim_wrapper.history.count.sum()) == 32


def test_score_options_with_another_score_are_refused():
    with pytest.raises(ValueError, match=r"\['f_min'\] are options of score='ausam'"):
        ausam_sampler(score='uniform', f_min=0.2)
    with pytest.raises(ValueError, match=r"\['f_max'\] are options of AUSAMBatchSampler, not "
                                         r"of its `score` dict.*f_max=0.6"):
        ausam_sampler(score=dict(type='ausam', f_max=0.6), ramp_epochs=3)  # one way in
    with pytest.raises(ValueError, match=r"\['ramp_epochs'\].*name the score"):
        ausam_sampler(score=AUSAMScore(), ramp_epochs=3)
    assert ausam_sampler(score='ausam', f_min=0.2).score.f_min == 0.2


def test_wrapper_keeps_no_history_in_its_state_dict(tmp_path, runner_cfg):
    runner = train(runner_cfg(tmp_path, epochs=1))
    assert 'ausam_history' not in runner.optim_wrapper.state_dict()


# -- a dataloader rebuilt mid-run -------------------------------------------------------------

def test_a_dataloader_rebuilt_mid_run_continues_the_score_history(tmp_path, runner_cfg):
    """MMPose's YOLOXPoseModeSwitchHook (RTMO, YOLOX-Pose) builds a new train dataloader, so a
    new AUSAMBatchSampler, before its last epochs: the new sampler must draw from the scores
    the wrapper keeps posting (warm-up epoch: 32 posts, then 16 per epoch)."""
    import mmpose.engine.hooks  # noqa: F401  (registers YOLOXPoseModeSwitchHook)
    cfg = runner_cfg(tmp_path, epochs=3, log_level='INFO')
    cfg['custom_hooks'] = [dict(type='mmpose.YOLOXPoseModeSwitchHook', num_last_epochs=1),
                           *cfg.get('custom_hooks', [])]
    runner = train(cfg)
    assert 'the train dataloader was rebuilt' in log_of(runner)
    sampler = runner.train_dataloader.batch_sampler
    assert sampler.history is runner.optim_wrapper.history
    assert int(sampler.history.count.sum()) == 32 + 2 * 16
    assert selected_per_iter(runner) == [8] * 4 + [4] * 8
