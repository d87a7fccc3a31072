"""AUSAMBatchSampler + AUSAMOptimWrapper in real MMEngine Runners."""
import copy

import pytest
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.logging import MessageHub

from ausam_mm.engine import AUSAMBatchSampler, IndexedDataset
from conftest import (assert_resumed, ausam_sampler, history_of, log_of, straight_and_resumed,
                      train, weights)
from toy import ToyImageDataset


def test_sampler_keeps_batches_per_epoch_and_draws_floor_ratio_b():
    sampler = ausam_sampler(n=20, batch_size=8, ratio=0.5, warmup_epochs=1)
    assert len(sampler) == 3
    sampler.set_epoch(0)
    warm = list(sampler)
    assert [len(b) for b in warm] == [8, 8, 4]  # warm-up: whole candidate batches
    assert sorted(i for b in warm for i in b) == list(range(20))
    sampler.set_epoch(1)
    batches = list(sampler)
    assert [len(b) for b in batches] == [4, 4, 2]
    candidates = list(sampler.sampler)
    for b, start in zip(batches, (0, 8, 16)):  # each subset comes from its candidate batch,
        cand = candidates[start:start + 8]     # in the candidates' order
        assert set(b) <= set(cand) and b == sorted(b, key=cand.index)
    sampler.set_epoch(1)
    assert batches == list(sampler)  # same seed, epoch: same draws
    assert [len(b) for b in list(sampler)] == [4, 4, 2]  # without set_epoch: the next epoch


def test_sampler_state_dict_moves_its_run_to_another_sampler():
    """state_dict/load_state_dict outside a Runner: the history, AUSAM's start and the subset
    drawn ahead of the iteration in training go to a new sampler, which yields that subset
    again (drawn with the old ratio) and draws the others with its own."""
    a = ausam_sampler(n=16, batch_size=8, warmup_epochs=0, ramp_epochs=0)
    a.history.update(torch.arange(16), torch.rand(16, generator=torch.Generator().manual_seed(0)))
    a.start_at(1)
    assert a.start_iter == 1
    a.set_epoch(1)
    drawn = list(a)  # iterations 2 and 3
    a.message_hub.update_info('iter', 2)  # the Runner trains iteration 2: 3 is drawn ahead
    state = a.state_dict()
    assert set(state) == {'history', 'start_iter', 'options', 'draws_ahead', 'world_size'}
    assert state['draws_ahead'] == {3: [drawn[1], None]} and state['start_iter'] == 1
    b = ausam_sampler(n=16, batch_size=8, warmup_epochs=0, ramp_epochs=0, ratio=0.25)
    b.load_state_dict(state)
    assert torch.equal(b.history.count, a.history.count) and b.start_iter == 1
    b.set_epoch(1)
    again = list(b)
    assert again[1] == drawn[1] and [len(x) for x in again] == [2, 4]


def test_sampler_reads_scores_posted_during_the_epoch():
    sampler = ausam_sampler(n=16, batch_size=16, ratio=0.25, warmup_epochs=0,
                            ramp_epochs=0, f_min=0.001, f_max=1.0)
    history = sampler.history
    dlp = torch.full((16,), 1e-6)
    dlp[[3, 5, 7, 11]] = 1.0  # four samples dominate
    history.update(torch.arange(16), dlp)
    counts = torch.zeros(16)
    for epoch in range(50):
        sampler.set_epoch(epoch)
        for b in sampler:
            counts[b] += 1
    assert counts[[3, 5, 7, 11]].min() > 25 and counts.sum() == 200


def test_sampler_requires_indexed_dataset():
    with pytest.raises(RuntimeError, match="type='IndexedDataset'"):
        AUSAMBatchSampler(DefaultSampler(ToyImageDataset(n=8)), 4)
    with pytest.raises(ValueError, match='1.5'):
        ausam_sampler(ratio=1.5)


def test_infinite_sampler_counts_epochs_by_batches():
    MessageHub.get_instance('infinite_test')
    dataset = IndexedDataset(ToyImageDataset(n=16))
    sampler = AUSAMBatchSampler(InfiniteSampler(dataset, seed=0), 8, ratio=0.5,
                                warmup_epochs=1)
    sampler.link()
    it = iter(sampler)
    sizes = [len(next(it)) for _ in range(6)]
    assert sizes == [8, 8, 4, 4, 4, 4]


def test_ratio_one_is_bit_identical_to_sam(tmp_path, runner_cfg):
    sam = train(runner_cfg(tmp_path / 'sam', optim='SAMOptimWrapper', epochs=3))
    ausam = train(runner_cfg(tmp_path / 'ausam', ratio=1.0, epochs=3))
    a, b = weights(sam), weights(ausam)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert history_of(ausam).coverage == 1.0


def test_ausam_trains_logs_and_posts_true_dlps(tmp_path, runner_cfg):
    runner = train(runner_cfg(tmp_path, ratio=0.5, epochs=3, log_level='INFO'))
    hub = runner.message_hub
    history = history_of(runner)
    # 32 samples: 4 full batches in warm-up, then 2 epochs of 4 half batches (16 posts each)
    assert int(history.count.sum()) == 32 + 16 + 16
    assert hub.get_scalar('train/ausam/selected').current() == 4
    assert hub.get_scalar('train/ausam/coverage').current() == 1.0
    assert 0.1 <= hub.get_scalar('train/ausam/f_max').current() <= 0.5
    assert hub.get_scalar('train/ausam/dlp_mean').current() > 0
    log = log_of(runner)
    assert 'ausam/selected' in log and 'sam/sharpness' in log


def test_dlp_is_the_loss_change_under_the_perturbation(runner_cfg, tmp_path):
    """One step by hand: DLP_i = |l_i(w+e) - l_i(w)| with e from the batch's mean gradient."""
    from mmengine.optim import build_optim_wrapper
    from ausam_mm.core import ScoreHistory
    from toy import ToyConvNet, toy_batch

    torch.manual_seed(0)
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='AUSAMOptimWrapper', rho=0.5,
                                              optimizer=dict(type='SGD', lr=0.1)))
    wrapper.use_history(ScoreHistory(8))
    batch = toy_batch(n=8)
    for i, s in enumerate(batch['data_samples']):
        s.set_metainfo(dict(dataset_index=7 - i))
    probe = copy.deepcopy(model)
    model.train_step(batch, wrapper)

    data = probe.data_preprocessor(batch, True)
    at_w = probe(**data, mode='loss')['loss']
    at_w.mean().backward()
    params = list(probe.parameters())
    norm = torch.norm(torch.stack([p.grad.norm() for p in params]))
    with torch.no_grad():
        for p in params:
            p.add_(0.5 * p.grad / (norm + 1e-12))
        at_e = probe(**data, mode='loss')['loss']
    expected = (at_e - at_w).abs().detach().double()
    history = wrapper.history
    torch.testing.assert_close(history.adlp(torch.arange(7, -1, -1)), expected,
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize('sampler,workers', [('DefaultSampler', 0), ('InfiniteSampler', 0),
                                             ('InfiniteSampler', 2), ('DefaultSampler', 2)])
def test_iter_based_resume_with_skipped_batches_is_exact(tmp_path, runner_cfg, sampler,
                                                         workers):
    """MMEngine skips the trained batches on an iteration-based resume: indices still match.
    With workers, the DataLoader draws batches ahead of training (with the scores of that
    moment): the checkpoint keeps the draws in flight, and the resumed run replays them."""
    def cfg(work_dir, iters, **kw):
        return runner_cfg(work_dir, iters=iters, checkpoint_interval=5, num_workers=workers,
                          sampler=dict(type=sampler, shuffle=True), **kw)
    straight, resumed = straight_and_resumed(cfg, tmp_path, 10, 14)
    assert_resumed(resumed, 0, 10)
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(history_of(straight).count, history_of(resumed).count)
    # 2 workers draw up to prefetch_factor (2) * 2 subsets ahead of training (to the end of
    # the pass with DefaultSampler: 2 here); no worker, none
    replayed = f'{4 if sampler == "InfiniteSampler" else 2} subset(s) the DataLoader had ' \
               'drawn ahead of iteration 10 are replayed'
    assert (replayed in log_of(resumed)) == (workers > 0)


@pytest.mark.parametrize('persistent', [False, True])
def test_short_epoch_with_workers_trains_and_resumes_exact(tmp_path, runner_cfg, persistent):
    """An epoch of 2 batches (16 samples, batch 8), InfiniteSampler, 2 workers: MMEngine's
    IterBasedTrainLoop builds the DataLoader iterator before any hook runs, and the workers'
    prefetch (2 x 2 batches) draws past the warm-up epoch before AUSAMHook links the sampler.
    Those draws use the (empty) history of that moment; the run trains, and resumed at
    iteration 3 (one of them not yet trained) it ends bit-identical to the straight run."""
    def cfg(work_dir, iters, **kw):
        return runner_cfg(work_dir, n=16, iters=iters, checkpoint_interval=3, num_workers=2,
                          persistent_workers=persistent,
                          sampler=dict(type='InfiniteSampler', shuffle=True), **kw)
    straight, resumed = straight_and_resumed(cfg, tmp_path, 3, 8)
    selected = straight.message_hub.get_scalar('train/ausam/selected').data[0]
    assert selected.astype(int).tolist() == [8, 8] + [4] * 6  # 1 warm-up epoch, then half
    assert_resumed(resumed, 0, 3)
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    h, g = history_of(straight), history_of(resumed)
    assert torch.equal(h.count, g.count) and torch.equal(h.total, g.total)
    assert int(h.count.sum()) == 16 + 6 * 4


def test_workers_and_persistent_workers(tmp_path, runner_cfg):
    ref = train(runner_cfg(tmp_path / 'w0', epochs=3))
    runner = train(runner_cfg(tmp_path / 'w2', epochs=3, num_workers=2,
                              persistent_workers=True))
    assert torch.equal(history_of(ref).count, history_of(runner).count)
    a, b = weights(ref), weights(runner)
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)


def test_uniform_score_ignores_the_scores(tmp_path, runner_cfg):
    """score='uniform': the same subset size, drawn without looking at the history."""
    sampler = ausam_sampler(n=16, batch_size=16, ratio=0.25, warmup_epochs=0, score='uniform')
    dlp = torch.full((16,), 1e-6)
    dlp[[3, 5, 7, 11]] = 1.0  # would dominate an 'ausam' draw (every one > 25 times)
    sampler.history.update(torch.arange(16), dlp)
    counts = torch.zeros(16)
    for epoch in range(50):
        sampler.set_epoch(epoch)
        for b in sampler:
            counts[b] += 1
    assert counts.sum() == 200 and counts[[3, 5, 7, 11]].max() < 25  # 12.5 expected each
    runner = train(runner_cfg(tmp_path, score='uniform', epochs=2))
    assert runner.message_hub.get_scalar('train/ausam/selected').current() == 4


def test_scalar_loss_error_names_the_fix(tmp_path, runner_cfg):
    cfg = runner_cfg(tmp_path, epochs=1, model=dict(type='ToyConvNet', per_sample=False))
    with pytest.raises(ValueError, match="reduction='none'"):
        train(cfg)
