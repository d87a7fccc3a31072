"""When to take a SAM step: a phase of the training and a random draw per optimizer update.

Plain Python and PyTorch; ``SAMStepSchedule`` (ausam_mm/engine/optim_wrappers/sam_schedule.py)
owns one :class:`SAMSchedule` and asks it, before each optimizer update, whether that update
is a SAM one (docs/ausam.md, "Late phase and random schedule").

- **Phase** (``begin``, ``end``): SAM on the updates whose first iteration lies in
  ``[begin, end)``, the base optimizer's single pass on the others. A float is a fraction of
  the training (``begin=0.75``: the last 25 %, Zhou et al.'s late-phase SAM, ICLR 2025), an
  int an epoch (``by_epoch=True``, the default) or an iteration (``by_epoch=False``), as
  MMEngine's param schedulers count.
- **Probability** (``probability=p``): each update is a SAM one with probability ``p`` (the
  randomized SAM of arXiv 2203.09962). The draw depends on ``(seed, update)`` only, so every
  DDP rank draws alike without communicating and a resumed run repeats the draws.
"""
import math
from numbers import Integral
from typing import Any, Optional, Tuple, Union

import torch

from .options import check_bool, check_int, check_real
from .selection import generator_for

Bound = Union[int, float]


def _check_bound(name: str, value: Any) -> Bound:
    """An int (epoch or iteration, >= 0) or a float (fraction of the training, in [0, 1])."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        return check_int(name, value, low=0)
    value = check_real(name, value)
    if not 0 <= value <= 1:
        fix = (f'write {name}={int(value)} for epoch {int(value)} (with by_epoch=False: '
               'iteration)' if value > 1 and value == int(value) else
               'give an int for an epoch or an iteration')
        raise ValueError(f'`{name}={value}` is a float, read as a fraction of the training, '
                         f'which must be in [0, 1]: {fix}')
    return value


class SAMSchedule:
    """Which optimizer updates are SAM ones (the others take the base optimizer's step).

    Args:
        begin: first epoch, iteration (ints) or fraction of the training (a float) with SAM;
            default 0.
        end: where SAM stops (excluded), in the same units; default None: the end of the
            training. An epoch past the last is clipped to it, as MMEngine's schedulers do.
        by_epoch: whether int bounds are epochs (default True) or iterations; refused when no
            bound is an int (it would have no effect).
        probability: chance that an update of the phase is a SAM one, (0, 1]; default 1.

    Examples:
        >>> schedule = SAMSchedule(begin=0.75)                   # late phase: the last 25 %
        >>> schedule.phase(max_iters=400, max_epochs=4)
        (300, None)
        >>> SAMSchedule(probability=0.5).draw(seed=0, update=3)  # the same on every call
    """

    def __init__(self, begin: Bound = 0, end: Optional[Bound] = None,
                 by_epoch: Optional[bool] = None, probability: float = 1.0) -> None:
        self.begin = _check_bound('begin', begin)
        self.end = None if end is None else _check_bound('end', end)
        ints = [b for b in (self.begin, self.end) if isinstance(b, int) and b]
        if by_epoch is not None:
            by_epoch = check_bool('by_epoch', by_epoch)
            if not ints:
                raise ValueError(
                    f'`by_epoch={by_epoch}` says how int `begin`/`end` are counted and has no '
                    f'effect with begin={self.begin!r}, end={self.end!r} (fractions of the '
                    'training): remove it, or give begin/end as ints')
        self.by_epoch = True if by_epoch is None else by_epoch
        if self.end is not None and type(self.begin) is type(self.end) \
                and self.end <= self.begin:
            raise ValueError(f'`end` must be after `begin`, got begin={self.begin!r}, '
                             f'end={self.end!r}: SAM would never run')
        self.probability = check_real('probability', probability, low=0, high=1,
                                      low_open=True)

    @property
    def whole_run(self) -> bool:
        """Whether the phase is all of the training (no bound to resolve)."""
        return self.begin == 0 and self.end is None

    def phase(self, max_iters: int, max_epochs: Optional[int] = None,
              accumulative_counts: int = 1) -> Tuple[int, Optional[int]]:
        """``(first, stop)``: SAM on iterations ``first <= i < stop`` (``stop`` None: to the
        end), both rounded up to the start of an optimizer update so that every micro-batch
        of an update is alike. Fractions round to the nearest iteration."""
        if self.whole_run:
            return 0, None
        if max_iters is None or max_iters <= 0:
            raise RuntimeError(
                f'SAM with begin={self.begin!r}, end={self.end!r} needs the length of the '
                f'training (max_iters, got {max_iters}), which MMEngine\'s Runner gives the '
                'optimizer wrapper (initialize_count_status) before training: train through '
                'a Runner, or call wrapper.initialize_count_status(model, 0, max_iters).')
        first = self._iteration('begin', self.begin, max_iters, max_epochs)
        stop = None if self.end is None else \
            self._iteration('end', self.end, max_iters, max_epochs)
        k = accumulative_counts
        first = min(math.ceil(first / k) * k, max_iters)
        if stop is not None:
            stop = min(math.ceil(stop / k) * k, max_iters)
        if first >= (max_iters if stop is None else stop):
            unit = self._unit(self.begin)
            raise ValueError(
                f'SAM never runs: begin={self.begin!r} ({unit}) starts at iteration {first}, '
                f'at or after where it stops (iteration {max_iters if stop is None else stop} '
                f'of {max_iters}{self._epochs_note(max_epochs)}). Give an earlier `begin` or a '
                'later `end`.')
        return first, (None if stop == max_iters else stop)

    def _unit(self, bound: Bound) -> str:
        if isinstance(bound, float):
            return 'a fraction of the training'
        return 'an epoch' if self.by_epoch else 'an iteration'

    @staticmethod
    def _epochs_note(max_epochs: Optional[int]) -> str:
        return f', {max_epochs} epoch(s)' if max_epochs else ''

    def _iteration(self, name: str, bound: Bound, max_iters: int,
                   max_epochs: Optional[int]) -> int:
        if isinstance(bound, float):
            return min(round(bound * max_iters), max_iters)
        if not self.by_epoch:
            return min(bound, max_iters)
        if not max_epochs:
            raise RuntimeError(
                f'`{name}={bound}` is an epoch (by_epoch=True) and the number of epochs is not '
                "known (MMEngine's RuntimeInfoHook records it as 'max_epochs' before "
                'training): train through a Runner, or give a fraction of the training '
                f'(a float) or an iteration (by_epoch=False).')
        if name == 'begin' and bound >= max_epochs:
            raise ValueError(
                f'SAM never runs: begin={bound} (an epoch) is at or past the end of the '
                f'training ({max_epochs} epoch(s); an iteration-based loop counts as one): give '
                'an earlier epoch, a fraction of the training (a float) or an iteration '
                '(by_epoch=False).')
        return min(bound, max_epochs) * (max_iters // max_epochs)

    def draw(self, seed: int, update: int) -> bool:
        """Whether update number ``update`` (0-based) of a run seeded ``seed`` is a SAM one:
        a function of these two numbers alone (always True with ``probability=1``)."""
        if self.probability >= 1:
            return True
        u = torch.rand((), generator=generator_for(seed, update, 0x5A3)).item()
        return u < self.probability

    def options(self) -> dict:
        """The configured options (for the wrapper's resume rule)."""
        return dict(begin=self.begin, end=self.end, by_epoch=self.by_epoch,
                    probability=self.probability)

    def __repr__(self) -> str:
        return (f'SAMSchedule(begin={self.begin!r}, end={self.end!r}, '
                f'by_epoch={self.by_epoch}, probability={self.probability})')
