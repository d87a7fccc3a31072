"""Unbiased AUSAM (``importance_weights=True``): the draw, the weights, the wrapper's two passes,
and real Runners."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from ausam_mm.core import (ScoreHistory, importance_weights,
                           inclusion_probabilities, scaled_scores, subset_size,
                           systematic_positions)
from ausam_mm.engine import IndexedDataset
from ausam_mm.engine.optim_wrappers.ausam import weighted_loss
from ausam_mm.engine.datasets.indexed_dataset import WeightedIndex
from conftest import ausam_sampler, train
from toy import ToyConvNet, ToyImageDataset, toy_batch


def ausam_probs(adlp, f_min=0.1, f_max=0.5):
    s = scaled_scores(torch.as_tensor(adlp, dtype=torch.float64), f_min, f_max)
    return s / s.sum()


def exact_expectation(pi, values):
    """E over the offset u ~ U[0, 1) of the systematic draw: the draw is constant between the
    fractional parts of cumsum(pi), so a sum over those segments is exact. Returns the
    expectation of ``values(positions)`` and the inclusion frequency of every position."""
    cuts = torch.cumsum(pi, 0)
    edges = sorted({0.0, 1.0, *(float(c - torch.floor(c)) for c in cuts)})
    expectation, inclusion = 0.0, torch.zeros_like(pi)
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi - lo < 1e-15:
            continue
        positions = systematic_positions(pi, (lo + hi) / 2)
        assert len(positions) == round(float(pi.sum()))  # always exactly k samples
        expectation += (hi - lo) * values(positions)
        inclusion[positions] += hi - lo
    return expectation, inclusion


def test_inclusion_probabilities_are_proportional_sum_to_k_and_cap_at_one():
    probs = ausam_probs([5.0, 0.1, 0.2, 0.1, 0.1, 0.1, 0.15, 0.1])
    pi = inclusion_probabilities(probs, 4)
    assert float(pi.sum()) == pytest.approx(4)
    assert float(pi[0]) == 1.0  # 4 p_0 > 1: capped, the rest share the remaining 3
    free = torch.arange(1, 8)
    torch.testing.assert_close(pi[free] / pi[free].sum(), probs[free] / probs[free].sum())
    uniform = inclusion_probabilities(torch.full((8,), 0.125, dtype=torch.float64), 2)
    torch.testing.assert_close(uniform, torch.full((8,), 0.25, dtype=torch.float64))
    with pytest.raises(ValueError, match='probability > 0'):
        inclusion_probabilities(torch.tensor([0.5, 0.5, 0.0]), 1)
    with pytest.raises(ValueError, match='got 9'):
        inclusion_probabilities(probs, 9)


@pytest.mark.parametrize('adlp,k', [([0.3, 0.1, 2.0, 0.5, 0.05, 0.7, 1.1], 3),  # some capped
                                    ([0.2, 0.4, 0.6, 0.8, 1.0], 2)])
def test_weighted_subset_loss_is_exactly_unbiased_for_the_batch_mean(adlp, k):
    """Exact enumeration of the draw: E[mean_S(w * l)] = mean_B(l) for any losses l, and each
    candidate is drawn with exactly its pi_i."""
    pi = inclusion_probabilities(ausam_probs(adlp), k)
    for seed in range(3):
        losses = torch.rand(len(adlp), generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float64) * 3
        expected, inclusion = exact_expectation(
            pi, lambda pos: float((importance_weights(pi, pos) * losses[pos]).mean()))
        assert expected == pytest.approx(float(losses.mean()), abs=1e-12)
        torch.testing.assert_close(inclusion, pi, atol=1e-12, rtol=0)
        # the same draw without the weights is biased towards the high-score samples
        plain, _ = exact_expectation(pi, lambda pos: float(losses[pos].mean()))
        assert abs(plain - float(losses.mean())) > 1e-3


def test_sampler_draws_are_unbiased_with_a_fixed_history_and_biased_without_weights():
    """Through the real sampler: many draws of one candidate batch with a fixed history. The
    weighted subset loss (the wrapper's ``weighted_loss``) averages to the batch mean; the
    paper's unweighted draw does not (it over-weights high-DLP samples)."""
    b, draws = 16, 3000
    adlp = torch.linspace(0.01, 1.0, b, dtype=torch.float64)
    losses = 0.2 + 2 * adlp  # high-DLP samples have high losses, as in training
    means = {}
    for weighted in (True, False):
        sampler = ausam_sampler(b, b, shuffle=False, ratio=0.25, warmup_epochs=0,
                                ramp_epochs=0, importance_weights=weighted)
        sampler.history.update(torch.arange(b), adlp)
        candidates = list(range(b))
        values = []
        for batch in range(draws):
            subset = sampler.select(candidates, 1, batch)
            assert len(subset) == subset_size(0.25, b)
            assert all(isinstance(i, WeightedIndex) for i in subset) == weighted
            idx = torch.tensor([int(i) for i in subset])
            w = (torch.tensor([i.weight for i in subset]) if weighted
                 else torch.ones(len(subset)))
            values.append(float(weighted_loss(dict(loss=losses[idx].float()), w)))
        values = torch.tensor(values, dtype=torch.float64)
        means[weighted] = (float(values.mean()), float(values.std() / draws ** 0.5))
    mean, se = means[True]
    assert abs(mean - float(losses.mean())) < 4 * se
    mean, se = means[False]
    assert mean - float(losses.mean()) > 10 * se


def test_weighted_index_reaches_the_sample_metainfo_through_pickling():
    import pickle
    dataset = IndexedDataset(ToyImageDataset(n=8))
    index = pickle.loads(pickle.dumps(WeightedIndex(5, 1.75)))
    assert index == 5 and index.weight == 1.75
    meta = dataset[index]['data_samples'].metainfo
    assert meta['dataset_index'] == 5 and meta['ausam_weight'] == 1.75
    assert 'ausam_weight' not in dataset[5]['data_samples'].metainfo


def test_wrapper_weights_both_passes():
    """One step by hand: the ascent gradient, the perturbation and the descent gradient are
    those of mean(w * l), not of the plain mean."""
    torch.manual_seed(0)
    model = ToyConvNet()
    probe = copy.deepcopy(model)
    lr, rho = 0.1, 0.5
    wrapper = build_optim_wrapper(model, dict(type='AUSAMOptimWrapper', rho=rho,
                                              optimizer=dict(type='SGD', lr=lr)))
    history = ScoreHistory(8)
    if hasattr(wrapper, 'use_history'):
        wrapper.use_history(history)
    else:
        wrapper.history = history
    batch = toy_batch(n=8)
    weights = torch.tensor([0.2, 3.0, 0.5, 1.0, 2.5, 0.3, 1.5, 0.7])
    for i, s in enumerate(batch['data_samples']):
        s.set_metainfo(dict(dataset_index=i, ausam_weight=float(weights[i])))
    model.train_step(batch, wrapper)

    data = probe.data_preprocessor(batch, True)
    params = list(probe.parameters())
    (weights * probe(**data, mode='loss')['loss']).mean().backward()
    norm = torch.norm(torch.stack([p.grad.norm() for p in params]))
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.add_(rho * p.grad / (norm + 1e-12))
            p.grad = None
    (weights * probe(**data, mode='loss')['loss']).mean().backward()
    with torch.no_grad():
        for p, w in zip(params, saved):
            p.copy_(w - lr * p.grad)
    for (name, got), want in zip(model.named_parameters(), params):
        torch.testing.assert_close(got, want, msg=name)
    # the DLPs are the samples' own loss changes, unweighted
    assert history.count.sum() == 8
    with pytest.raises(RuntimeError, match='weighted all or none'):
        batch['data_samples'][0].set_metainfo(dict(ausam_weight=1.0))
        del batch['data_samples'][1].ausam_weight
        model.train_step(batch, wrapper)


def test_ratio_one_with_importance_weights_is_bit_identical_to_sam(tmp_path, runner_cfg):
    sam = train(runner_cfg(tmp_path / 'sam', optim='SAMOptimWrapper', epochs=3))
    cfg = runner_cfg(tmp_path / 'ausam', ratio=1.0, epochs=3)
    cfg['train_dataloader']['batch_sampler']['importance_weights'] = True
    ausam = train(cfg)
    a, b = sam.model.state_dict(), ausam.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_importance_weighted_ausam_trains_with_worker_processes(tmp_path, runner_cfg):
    cfg = runner_cfg(tmp_path, ratio=0.5, epochs=3, num_workers=1, log_level='INFO')
    cfg['train_dataloader']['batch_sampler']['importance_weights'] = True
    runner = train(cfg)
    hub = runner.message_hub
    low, high = (hub.get_scalar(f'train/ausam/weight_{m}').current() for m in ('min', 'max'))
    # weights k / (b pi_i), pi_i proportional to scores in [f_min, f_max]: within a factor 5
    assert 0 < low < high <= 5 * low + 1e-9
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
