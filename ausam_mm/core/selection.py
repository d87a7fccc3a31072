"""Which samples of a candidate batch get the SAM step: scores, probabilities and the draw.

Owns docs/ausam.md's "Selection" and "Schedule of the upper bound"; plain PyTorch, no MMEngine.

    f_max(e) = f_min + (f_max - f_min) * clip((e - ramp_start) / ramp_epochs, 0, 1)
    s_i      = f_min + (ADLP_i - min_B ADLP) / (max_B ADLP - min_B ADLP) * (f_max(e) - f_min)
    p_i      = s_i / sum_B s_j          (uniform when max_B == min_B)
    draw k = floor(ratio * b) of the b candidates without replacement from p

A sample never observed takes the largest score of its batch (``s_i = f_max(e)``): it is
favoured until it has a score, as in the reference code, which starts every ADLP at 1.

Scores are pluggable: subclass :class:`SelectionScore`, decorate it with
:func:`register_score` and name it in the sampler's ``score=``; the sampler does not change.
"""
import inspect
import math
from typing import Any, Dict, Optional, Type, Union

import numpy as np
import torch
from torch import Tensor

from .history import ScoreHistory
from .options import check_real

SCORES: Dict[str, Type['SelectionScore']] = {}


def register_score(name: str):
    """Class decorator: make a :class:`SelectionScore` available as ``score=name``."""
    def _register(cls):
        if name in SCORES:
            raise ValueError(f'score {name!r} is already registered by {SCORES[name].__name__}')
        SCORES[name] = cls
        return cls
    return _register


def score_options(name: str) -> Optional[Dict[str, Any]]:
    """The options of the registered score ``name`` and their defaults, read from its
    constructor's signature, the one place they are written (``AUSAMScore``: ``f_min=0.1``,
    ...); None when it takes ``**kwargs`` (any option)."""
    init = SCORES[name].__init__
    if init is object.__init__:  # no constructor of its own: no options
        return {}
    params = list(inspect.signature(init).parameters.values())[1:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name: p.default for p in params if p.kind is not p.VAR_POSITIONAL}


def build_score(score: Union[str, dict, 'SelectionScore']) -> 'SelectionScore':
    """A score from a name (``'ausam'``), a dict (``dict(type='ausam', f_max=0.6)``) or itself.
    An option the named score does not take is refused, naming the scores that take it."""
    if isinstance(score, SelectionScore):
        return score
    kwargs = {}
    if isinstance(score, dict):
        kwargs = dict(score)
        score = kwargs.pop('type', None)
    if not isinstance(score, str) or score not in SCORES:
        raise ValueError(f'unknown score {score!r}: `score` is one of the registered scores '
                         f'{sorted(SCORES)}, a dict with one of them as `type`, or a '
                         'SelectionScore instance')
    accepted = score_options(score)
    unknown = sorted(set(kwargs) - set(kwargs if accepted is None else accepted))
    if unknown:
        owners = [n for n in SCORES if set(unknown) <= set(score_options(n) or ())]
        whose = f'options of score={owners[0]!r}' if owners else 'not options of any score'
        raise ValueError(f'{unknown} are {whose} and have no effect with score={score!r} '
                         f'(its options: {sorted(accepted)}): remove them, or choose the score '
                         'that takes them.')
    return SCORES[score](**kwargs)


class SelectionScore:
    """Turns the history of a candidate batch into selection probabilities."""

    def probabilities(self, history: ScoreHistory, indices: Tensor, epoch: int) -> Tensor:
        """Probability of each candidate (sums to 1), in the order of ``indices``."""
        raise NotImplementedError

    def stats(self, epoch: int) -> Dict[str, float]:
        """Scalars worth logging at ``epoch`` (e.g. the current ``f_max``)."""
        return {}

    def options(self) -> Dict[str, Any]:
        """The score's name and options (its public attributes that are plain values), saved
        with a checkpoint so that a resumed run can say which of them changed."""
        name = next((n for n, cls in SCORES.items() if cls is type(self)), type(self).__name__)
        plain = (bool, int, float, str, type(None))
        return dict(score=name, **{k: v for k, v in vars(self).items()
                                   if not k.startswith('_') and isinstance(v, plain)})


@register_score('uniform')
class UniformScore(SelectionScore):
    """Every candidate equally likely: random-subset SAM, the ablation of AUSAM."""

    def probabilities(self, history: ScoreHistory, indices: Tensor, epoch: int) -> Tensor:
        return torch.full((len(indices),), 1.0 / len(indices), dtype=torch.float64)


def f_max_at(epoch: float, f_min: float, f_max: float, ramp_start: float,
             ramp_epochs: float) -> float:
    """Upper bound of the scaled score at ``epoch``: linear from ``f_min`` to ``f_max``."""
    if ramp_epochs <= 0:
        return f_max if epoch >= ramp_start else f_min
    t = min(max((epoch - ramp_start) / ramp_epochs, 0.0), 1.0)
    return f_min + (f_max - f_min) * t


def scaled_scores(adlp: Tensor, f_min: float, f_max: float) -> Tensor:
    """Min-max scale ``adlp`` into ``[f_min, f_max]``; NaN (unseen) takes ``f_max``.

    All equal (or all unseen) gives equal scores, i.e. uniform probabilities.
    """
    adlp = adlp.to(torch.float64)
    seen = ~torch.isnan(adlp)
    s = torch.full_like(adlp, f_max)
    if seen.any():
        lo, hi = adlp[seen].min(), adlp[seen].max()
        if hi > lo:
            s[seen] = f_min + (adlp[seen] - lo) / (hi - lo) * (f_max - f_min)
    return s


@register_score('ausam')
class AUSAMScore(SelectionScore):
    """AUSAM's probabilities: min-max scaled ADLP in ``[f_min, f_max(epoch)]``, normalised.

    Args:
        f_min: smallest scaled score (> 0, so no sample is ever starved).
        f_max: largest scaled score once the ramp is over; ``f_max / f_min`` bounds the ratio
            of the largest to the smallest probability in a batch.
        ramp_start: epoch at which ``f_max(e)`` starts to rise from ``f_min``.
        ramp_epochs: epochs it takes to reach ``f_max`` (0: at once).
    """

    def __init__(self, f_min: float = 0.1, f_max: float = 0.5, ramp_start: float = 0,
                 ramp_epochs: float = 30) -> None:
        f_min = check_real('f_min', f_min, low=0, low_open=True)
        f_max = check_real('f_max', f_max, low=0, low_open=True)
        if not f_min <= f_max:
            raise ValueError(f'need 0 < f_min <= f_max, got f_min={f_min}, f_max={f_max}')
        ramp_start = check_real('ramp_start', ramp_start)
        ramp_epochs = check_real('ramp_epochs', ramp_epochs, low=0)
        self.f_min, self.f_max = f_min, f_max
        self.ramp_start, self.ramp_epochs = ramp_start, ramp_epochs

    def f_max_at(self, epoch: float) -> float:
        return f_max_at(epoch, self.f_min, self.f_max, self.ramp_start, self.ramp_epochs)

    def probabilities(self, history: ScoreHistory, indices: Tensor, epoch: int) -> Tensor:
        s = scaled_scores(history.adlp(indices), self.f_min, self.f_max_at(epoch))
        return s / s.sum()

    def stats(self, epoch: int) -> Dict[str, float]:
        return {'f_max': self.f_max_at(epoch)}


def subset_size(ratio: float, batch: int) -> int:
    """``floor(ratio * b)``, at least 1 (an exact product is not lost to rounding)."""
    return max(1, math.floor(ratio * batch + 1e-9))


def draw_subset(probs: Tensor, k: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Positions of ``k`` candidates drawn without replacement from ``probs``, in ascending order.

    Sorting keeps the candidates' original order, so ``k == b`` returns the batch unchanged.
    """
    b = probs.numel()
    if k >= b:
        return torch.arange(b)
    chosen = torch.multinomial(probs.to(torch.float64), k, replacement=False, generator=generator)
    return chosen.sort().values


def top_k_positions(scores: Tensor, k: int) -> Tensor:
    """Positions of the ``k`` largest ``scores``, in ascending order: ESAM's sharpness-sensitive
    selection, the samples whose loss rose most under the perturbation."""
    return torch.topk(scores, k, sorted=False).indices.sort().values


def draw_seed(*keys: int) -> int:
    """A well-mixed 63-bit seed from integers (seed, epoch, batch, rank)."""
    return int(np.random.SeedSequence([int(k) & 0xFFFFFFFFFFFF for k in keys])
               .generate_state(1, np.uint64)[0] >> np.uint64(1))


def generator_for(*keys: int) -> torch.Generator:
    return torch.Generator().manual_seed(draw_seed(*keys))
