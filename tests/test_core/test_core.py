"""The framework-free core (ausam_mm.core) against docs/ausam.md, formula by formula."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from ausam_mm.core import (SCORES, AUSAMScore, ScoreHistory, build_score, draw_subset,
                           f_max_at, register_score, scaled_scores, subset_size)
from ausam_mm.core.selection import SelectionScore, generator_for


def test_history_is_the_running_mean_of_posted_dlps():
    rng = np.random.default_rng(0)
    h = ScoreHistory(10)
    posted = {i: [] for i in range(10)}
    for _ in range(50):
        idx = rng.integers(0, 10, size=6)  # repeats within a post count twice
        dlp = rng.random(6)
        h.update(torch.as_tensor(idx), torch.as_tensor(dlp))
        for i, d in zip(idx, dlp):
            posted[int(i)].append(float(d))
    adlp = h.adlp()
    for i, values in posted.items():
        if values:
            assert adlp[i].item() == pytest.approx(np.mean(values), abs=1e-12)
            assert h.count[i] == len(values)
        else:
            assert math.isnan(adlp[i])
    assert h.coverage == sum(bool(v) for v in posted.values()) / 10


def test_history_ema_starts_at_first_observation_in_posting_order():
    h = ScoreHistory(3, beta=0.5)
    h.update(torch.tensor([0, 0, 1]), torch.tensor([4.0, 2.0, 1.0]))
    h.update(torch.tensor([0]), torch.tensor([1.0]))
    assert h.adlp()[0].item() == pytest.approx(0.5 * (0.5 * 4 + 0.5 * 2) + 0.5 * 1)
    assert h.adlp()[1].item() == 1.0
    assert math.isnan(h.adlp()[2])


def test_history_rejects_foreign_indices_and_round_trips():
    h = ScoreHistory(4)
    with pytest.raises(IndexError, match='4'):
        h.update(torch.tensor([4]), torch.tensor([1.0]))
    h.update(torch.tensor([1, 2]), torch.tensor([0.5, 0.25]))
    other = ScoreHistory(4)
    other.load_state_dict(h.state_dict())
    assert torch.equal(other.total, h.total) and torch.equal(other.count, h.count)
    with pytest.raises(ValueError, match='5'):
        ScoreHistory(5).load_state_dict(h.state_dict())


def test_scaled_scores_formula_and_guards():
    adlp = torch.tensor([1.0, 3.0, 2.0, float('nan')], dtype=torch.float64)
    s = scaled_scores(adlp, 0.1, 0.5)
    # s_i = f_min + (a - min) / (max - min) * (f_max - f_min); unseen -> f_max
    assert s.tolist() == pytest.approx([0.1, 0.5, 0.3, 0.5])
    assert scaled_scores(torch.tensor([2.0, 2.0]), 0.1, 0.5).tolist() == [0.5, 0.5]
    assert scaled_scores(torch.tensor([float('nan')] * 3), 0.1, 0.5).tolist() == [0.5] * 3


def test_probability_ratio_is_bounded_by_f_max_over_f_min():
    h = ScoreHistory(50)
    h.update(torch.arange(50), torch.rand(50) ** 4)
    p = AUSAMScore(0.1, 0.5, ramp_epochs=0).probabilities(h, torch.arange(50), epoch=3)
    assert p.sum().item() == pytest.approx(1.0)
    assert (p.max() / p.min()).item() == pytest.approx(5.0)


def test_f_max_ramp():
    assert f_max_at(0, 0.1, 0.5, 0, 30) == pytest.approx(0.1)
    assert f_max_at(15, 0.1, 0.5, 0, 30) == pytest.approx(0.3)
    assert f_max_at(30, 0.1, 0.5, 0, 30) == pytest.approx(0.5)
    assert f_max_at(99, 0.1, 0.5, 0, 30) == pytest.approx(0.5)
    assert f_max_at(4, 0.1, 0.5, 5, 10) == pytest.approx(0.1)
    assert f_max_at(0, 0.1, 0.5, 0, 0) == 0.5
    # during the ramp's first epoch every sample is as likely as any other
    h = ScoreHistory(4)
    h.update(torch.arange(4), torch.tensor([0.1, 5.0, 1.0, 2.0]))
    p = AUSAMScore(0.1, 0.5, ramp_epochs=30).probabilities(h, torch.arange(4), epoch=0)
    assert torch.allclose(p, torch.full((4,), 0.25, dtype=torch.float64))


def test_single_draw_frequencies_match_probabilities_chi2():
    p = scaled_scores(torch.tensor([0.0, 1.0, 2.0, 4.0, 8.0, float('nan')]), 0.1, 0.5)
    p = p / p.sum()
    g = torch.Generator().manual_seed(0)
    n = 20000
    counts = np.bincount([draw_subset(p, 1, g).item() for _ in range(n)], minlength=6)
    chi2 = stats.chisquare(counts, n * p.numpy())
    assert chi2.pvalue > 1e-3, (counts, n * p.numpy())


def test_k_draw_inclusion_matches_sampling_without_replacement_chi2():
    """k=2 of 4: P({i,j}) = p_i p_j/(1-p_i) + p_j p_i/(1-p_j), enumerated exactly."""
    p = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    pairs = list(itertools.combinations(range(4), 2))
    expected = np.array([p[i] * p[j] / (1 - p[i]) + p[j] * p[i] / (1 - p[j])
                         for i, j in pairs])
    g = torch.Generator().manual_seed(1)
    n = 20000
    drawn = [tuple(draw_subset(p, 2, g).tolist()) for _ in range(n)]
    counts = np.array([drawn.count(pair) for pair in pairs])
    assert stats.chisquare(counts, n * expected / expected.sum()).pvalue > 1e-3


def test_draw_keeps_candidate_order_and_full_batch():
    p = torch.full((6,), 1 / 6, dtype=torch.float64)
    chosen = draw_subset(p, 3, generator_for(0, 1, 2, 0))
    assert chosen.tolist() == sorted(chosen.tolist()) and len(set(chosen.tolist())) == 3
    assert draw_subset(p, 6).tolist() == list(range(6))
    assert torch.equal(draw_subset(p, 3, generator_for(0, 1, 2, 0)), chosen)


def test_subset_size_is_floor_ratio_b():
    assert subset_size(0.5, 128) == 64
    assert subset_size(0.3, 10) == 3
    assert subset_size(0.5, 7) == 3
    assert subset_size(0.01, 10) == 1


def test_scores_are_pluggable():
    @register_score('test_loss_rank')
    class LastIsLikely(SelectionScore):
        def probabilities(self, history, indices, epoch):
            p = torch.zeros(len(indices), dtype=torch.float64)
            p[-1] = 1.0
            return p

    try:
        score = build_score('test_loss_rank')
        assert isinstance(score, LastIsLikely)
        assert draw_subset(score.probabilities(None, torch.arange(5), 0), 1).tolist() == [4]
        with pytest.raises(ValueError, match='already registered by LastIsLikely'):
            register_score('test_loss_rank')(LastIsLikely)
    finally:  # the registry is the process's: leave it as it was
        SCORES.pop('test_loss_rank')
    assert build_score(dict(type='ausam', f_max=0.7)).f_max == 0.7
    with pytest.raises(ValueError, match=r"\['f_min'\] are options of score='ausam' and have "
                                         r"no effect with score='uniform'"):
        build_score(dict(type='uniform', f_min=0.2))
    with pytest.raises(ValueError, match='registered scores'):
        build_score('nope')
