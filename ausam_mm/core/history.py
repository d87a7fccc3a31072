"""Per-sample score history: ADLP_i, the remembered loss change of each training sample.

Owns the ``dataset index -> ADLP`` table of docs/ausam.md ("The per-sample history"); plain
PyTorch, no MMEngine. The optimizer wrapper updates it with each step's DLPs
(:meth:`ScoreHistory.update`), the batch sampler reads it.

- ``beta=None`` (default): ADLP_i is the running mean of every DLP posted for sample i
  (a float64 sum and a count per sample).
- ``beta`` in [0, 1): ADLP_i is an exponential moving average, ``beta * ADLP + (1-beta) * DLP``,
  started at the first DLP observed.

A sample that has never been observed has no score (``seen`` is False); the selection rule
decides what it gets (:mod:`ausam_mm.core.selection`).
"""
from typing import Dict, Optional

import torch
from torch import Tensor

from .options import check_int, check_real


class ScoreHistory:
    """ADLP of every sample of a dataset of ``size`` samples.

    Args:
        size: number of samples (indices are ``0 .. size-1``, the dataset's global indices).
        beta: EMA factor, or ``None`` for the running mean of all observations (default).
    """

    def __init__(self, size: int, beta: Optional[float] = None,
                 fingerprint: Optional[str] = None) -> None:
        size = check_int('size', size, low=1)
        if beta is not None:  # None: the running mean
            beta = check_real('beta', beta, low=0, high=1, high_open=True)
        self.size = size
        self.beta = beta
        self.fingerprint = fingerprint  # of the dataset the indices refer to; None: unknown
        self.total = torch.zeros(size, dtype=torch.float64)  # sum of DLPs, or the EMA value
        self.count = torch.zeros(size, dtype=torch.int64)

    @property
    def seen(self) -> Tensor:
        """Boolean mask of samples with at least one observation."""
        return self.count > 0

    @property
    def coverage(self) -> float:
        """Fraction of the dataset that has a score."""
        return float(self.seen.sum()) / self.size

    def adlp(self, indices: Optional[Tensor] = None) -> Tensor:
        """ADLP of ``indices`` (all samples by default); NaN where never observed."""
        total = self.total if indices is None else self.total[indices]
        count = self.count if indices is None else self.count[indices]
        value = total / count if self.beta is None else total.clone()
        value[count == 0] = float('nan')
        return value

    def update(self, indices: Tensor, dlp: Tensor) -> None:
        """Record one DLP per index. Indices may repeat (each occurrence counts)."""
        indices = torch.as_tensor(indices, dtype=torch.int64).flatten().cpu()
        dlp = torch.as_tensor(dlp, dtype=torch.float64).flatten().detach().cpu()
        if indices.numel() != dlp.numel():
            raise ValueError(f'{indices.numel()} indices but {dlp.numel()} DLP values')
        if indices.numel() == 0:
            return
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= self.size:
            raise IndexError(f'sample index {lo if lo < 0 else hi} is outside the history of '
                             f'{self.size} samples: the indices do not belong to this dataset')
        if not torch.isfinite(dlp).all():
            raise ValueError('non-finite DLP posted; the loss was inf or nan')
        if self.beta is None:
            self.total.index_add_(0, indices, dlp)
            self.count.index_add_(0, indices, torch.ones_like(indices))
            return
        # EMA: apply repeated indices one occurrence at a time, in posting order.
        while indices.numel():
            uniq, first = _first_occurrences(indices)
            new = self.count[uniq] == 0
            old = self.total[uniq]
            value = dlp[first]
            self.total[uniq] = torch.where(new, value, self.beta * old + (1 - self.beta) * value)
            self.count[uniq] += 1
            keep = torch.ones_like(indices, dtype=torch.bool)
            keep[first] = False
            indices, dlp = indices[keep], dlp[keep]

    def state_dict(self) -> Dict:
        return dict(size=self.size, beta=self.beta, total=self.total.clone(),
                    count=self.count.clone(), fingerprint=self.fingerprint)

    def load_state_dict(self, state: Dict) -> None:
        if state['size'] != self.size:
            raise ValueError(f'the saved history has {state["size"]} samples but the dataset '
                             f'has {self.size}: resume with the same training set')
        saved = state.get('fingerprint')
        if None not in (saved, self.fingerprint) and saved != self.fingerprint:
            raise ValueError(
                f'the saved scores belong to another training set of {self.size} samples '
                f'(fingerprint {saved[:12]}, this one {self.fingerprint[:12]}): applied to this '
                'one they would score the wrong samples. Resume with the same training set, or '
                'start with fresh scores (`load_from` the checkpoint instead of resuming).')
        self.beta = state['beta']
        self.total.copy_(state['total'])
        self.count.copy_(state['count'])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, beta={self.beta}, '
                f'coverage={self.coverage:.3f})')


def _first_occurrences(indices: Tensor):
    """Unique values of ``indices`` and the position of each one's first occurrence."""
    uniq, inverse = torch.unique(indices, return_inverse=True)
    pos = torch.arange(indices.numel())
    first = torch.full((uniq.numel(),), indices.numel(), dtype=torch.int64)
    first.scatter_reduce_(0, inverse, pos, reduce='amin')
    return uniq, first
