"""``SAMStepSchedule``: which optimizer updates of a SAM wrapper are SAM ones.

One object owns every option that decides it (``interval``, ``begin``/``end``/``by_epoch``,
``probability``) and the seed of the random draws; the wrapper asks it before each update
(:meth:`is_sam`) and saves its state. The phase and the draws are
:class:`~ausam_mm.core.schedule.SAMSchedule`'s (framework-free); this class adds ``interval``,
resolves the phase against the Runner's training length and logs it once.
"""
import logging
from typing import Any, Dict, Optional, Tuple, Union

from mmengine.dist import sync_random_seed
from mmengine.logging import print_log

from ...core.options import check_int
from ...core.schedule import SAMSchedule

#: the checkpoint key of the draws' seed (in the wrapper's ``state_dict``)
SEED_KEY = 'sam_schedule_seed'


class SAMStepSchedule:
    """SAM on one optimizer update in ``interval``, inside the phase ``[begin, end)``, each
    with ``probability`` (the arguments of :class:`~.sam.SAMMixin`).

    Examples:
        >>> schedule = SAMStepSchedule(interval=2, begin=0.75)
        >>> schedule.is_sam(update=6, iteration=310, phase=(300, None))
        True
    """

    def __init__(self, interval: int = 1, begin: Union[int, float] = 0,
                 end: Union[int, float, None] = None, by_epoch: Optional[bool] = None,
                 probability: float = 1.0) -> None:
        self.interval = check_int('interval', interval, low=1)
        self.rule = SAMSchedule(begin, end, by_epoch, probability)
        # drawn only when there are draws to make: other configs leave numpy's global
        # generator untouched
        self.seed: Optional[int] = sync_random_seed() if self.rule.probability < 1 else None
        self._logged: Optional[tuple] = None

    @property
    def whole_run(self) -> bool:
        """Whether the phase is all of the training."""
        return self.rule.whole_run

    def is_sam(self, update: int, iteration: int,
               phase: Optional[Tuple[int, Optional[int]]] = None) -> bool:
        """Whether optimizer update ``update`` (0-based), starting at ``iteration``, is a SAM
        one; ``phase`` is :meth:`phase`'s (None: the whole run)."""
        if update % self.interval:
            return False
        if phase is not None:
            first, stop = phase
            if iteration < first or (stop is not None and iteration >= stop):
                return False
        return self.rule.draw(self.seed, update)

    def phase(self, max_iters: int, max_epochs: Optional[int], accumulative_counts: int,
              owner: str) -> Tuple[int, Optional[int]]:
        """The iterations ``[first, stop)`` with SAM steps (``stop`` None: to the end); logged
        once per training length, in MMEngine's 1-based iteration numbers."""
        phase = self.rule.phase(max_iters, max_epochs, accumulative_counts)
        if not self.whole_run and phase + (max_iters, ) != self._logged:
            self._logged = phase + (max_iters, )
            first, stop = phase
            last = max_iters if stop is None else stop
            print_log(f'{owner}: SAM steps on iterations {first + 1} to {last} of {max_iters} '
                      f"({self.rule}); the base optimizer's step on the others.",
                      logger='current', level=logging.INFO)
        return phase

    def options(self) -> Dict[str, Any]:
        """The configured options (for the wrapper's resume rule)."""
        return dict(interval=self.interval, **self.rule.options())

    def state_dict(self) -> Dict[str, int]:
        return {} if self.seed is None else {SEED_KEY: self.seed}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Takes (pops) the seed out of a wrapper's state: the draws continue with the
        checkpoint's seed (a run without draws saved none)."""
        self.seed = state.pop(SEED_KEY, self.seed)
