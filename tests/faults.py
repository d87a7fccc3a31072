"""Faults on purpose, for the reliability tests: a hook that kills its own process, a dataset
with a corrupt image, a pickle that runs a command when loaded."""
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import DATASETS, HOOKS

from toy import ToyImageDataset

#: the file that :class:`ForeignPickle` touches when it is unpickled
MARKER = '/tmp/ausam_mm_foreign_pickle_ran'


@HOOKS.register_module(force=True)
class KillAtIteration(Hook):
    """SIGKILL the training process once ``iteration`` iterations are done (no cleanup, no
    checkpoint: as an out-of-memory killer or a pre-empted node would)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)


@DATASETS.register_module(force=True)
class NaNAtDataset(ToyImageDataset):
    """``ToyImageDataset`` whose samples ``nan_at`` hold NaN pixels (a corrupt image)."""

    def __init__(self, nan_at=(), **kwargs) -> None:
        super().__init__(**kwargs)
        for i in nan_at:
            self.images[i, 0, 0, 0] = float('nan')


class ForeignPickle:
    """A pickle payload: unpickled in full, it runs ``touch MARKER``."""

    def __reduce__(self):
        return (os.system, (f'touch {MARKER}',))
