"""Unbiased AUSAM: draw with known inclusion probabilities, weight the loss by their inverse.

Owns the ``importance_weights`` option of docs/ausam.md; plain PyTorch, no MMEngine.
AUSAM's own draw (:func:`~ausam_mm.core.selection.draw_subset`, successive sampling without
replacement) favours high-DLP samples but its subset's mean loss is a biased estimate of the
candidate batch's. Importance sampling by (a proxy of) the per-sample gradient norm fixes that
with a Horvitz-Thompson estimator: draw k of the b candidates so that candidate i is in the
subset with a known probability ``pi_i``, and weight its loss by ``1 / (b pi_i)``::

    pi_i = min(1, c p_i), c such that sum_i pi_i = k      (proportional to p, capped at 1)
    E[ sum_{i in S} l_i / (b pi_i) ] = sum_i pi_i l_i / (b pi_i) = mean_B l

for every loss vector l, so the subset's loss and its gradient (both SAM passes) are unbiased
estimates of the candidate batch's. Expressed against the subset's plain mean, which MMEngine
takes of a per-sample loss, sample i's weight is ``k / (b pi_i)`` (``1 / (b p_i)`` where no
probability is capped). The weights are not normalised to sum to k: normalising (the
self-normalised estimator) would reintroduce a bias. They are bounded instead: AUSAM's
``f_max / f_min`` bounds ``p_max / p_min``, hence the weights' spread.

The draw is randomised systematic sampling (a random order, then one uniform offset ``u`` and
the points ``u, u+1, ..., u+k-1`` on the cumulated ``pi``), which takes exactly k samples and
gives every candidate exactly its ``pi_i``.
"""
from typing import Optional

import torch
from torch import Tensor


def inclusion_probabilities(probs: Tensor, k: int) -> Tensor:
    """``pi_i = min(1, c p_i)`` with ``sum pi = k``: each candidate's chance to be drawn.

    Args:
        probs: selection probabilities of the b candidates (positive, any scale).
        k: subset size, ``1 <= k <= b``.
    """
    probs = probs.to(torch.float64)
    b = probs.numel()
    if not 1 <= k <= b:
        raise ValueError(f'subset size must be in [1, {b}] for {b} candidates, got {k}')
    if not bool((probs > 0).all()):
        raise ValueError('importance weights need every candidate to have a probability > 0 '
                         '(AUSAM keeps f_min > 0 for this)')
    pi = torch.zeros_like(probs)
    capped = torch.zeros(b, dtype=torch.bool)
    while True:  # at most b rounds: each round caps at least one more candidate or ends
        free = ~capped
        scale = (k - int(capped.sum())) / probs[free].sum()
        pi[free] = probs[free] * scale
        over = free & (pi >= 1)
        if not bool(over.any()):
            break
        capped |= over
        pi[capped] = 1.0
    return pi


def systematic_positions(pi: Tensor, u: float) -> Tensor:
    """Positions (in the order of ``pi``) hit by the points ``u, u+1, ...`` on ``cumsum(pi)``.

    Position j is taken when a point lies in ``[c_{j-1}, c_j)``, so over ``u ~ U[0, 1)`` it is
    taken with probability exactly ``pi_j`` (each ``pi_j <= 1``); ``round(sum pi)`` are taken.
    """
    k = round(float(pi.sum()))
    edges = torch.cumsum(pi.to(torch.float64), 0)
    edges[-1] = k  # rounding must not lose the last point
    points_below = torch.clamp(torch.ceil(edges - u), 0, k)
    hits = torch.diff(points_below, prepend=points_below.new_zeros(1))
    return torch.nonzero(hits > 0).flatten()


def draw_systematic(pi: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """Positions of ``round(sum pi)`` candidates, each taken with probability ``pi_i``,
    in ascending order (randomised systematic sampling)."""
    order = torch.randperm(pi.numel(), generator=generator)
    u = float(torch.rand((), generator=generator, dtype=torch.float64))
    return order[systematic_positions(pi[order], u)].sort().values


def importance_weights(pi: Tensor, chosen: Tensor) -> Tensor:
    """Weight of each chosen candidate's loss against the subset's plain mean: ``k / (b pi)``.

    ``mean_S(w * l)`` is then the Horvitz-Thompson estimate of the candidate batch's mean loss.
    """
    return chosen.numel() / (pi.numel() * pi.to(torch.float64)[chosen])
