"""How the AUSAM batch sampler hands its score history to the optimizer wrapper.

``Runner.train()`` builds the train dataloader (and with it the ``AUSAMBatchSampler``, which
creates the run's :class:`~ausam_mm.core.history.ScoreHistory`) and then, in the same call,
the optimizer wrapper. The sampler *offers* the history in a thread-local slot; the wrapper
built next *claims* it (emptying the slot), so both hold the same object and nothing outlives
the hand-off: two Runners in one process, built in any order, keep separate histories.
The wrapper saves the history in its ``state_dict`` (``'ausam_history'``), so checkpoints and
resume carry it; the sampler reads it in place.
"""
import threading
from typing import Optional

from ..core.history import ScoreHistory

_slot = threading.local()

MISSING_SAMPLER = """\
{who} needs the per-sample history that AUSAMBatchSampler keeps, and none was built for this
run. Add to the config:

    train_dataloader = dict(
        batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5),
        dataset=dict(type='IndexedDataset', dataset=<your dataset>))

or build the whole change with `tools/train.py CONFIG --ausam`."""


def offer_history(history: ScoreHistory) -> None:
    """Called by the sampler when it is built; replaces an unclaimed offer."""
    _slot.history = history


def claim_history() -> Optional[ScoreHistory]:
    """Called by the wrapper: the history offered last, or None; empties the slot."""
    history = getattr(_slot, 'history', None)
    _slot.history = None
    return history
