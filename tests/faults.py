"""Faults on purpose, for the reliability tests: a hook that kills its own process."""
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class KillAtIteration(Hook):
    """SIGKILL the training process once ``iteration`` iterations are done (no cleanup, no
    checkpoint: as an out-of-memory killer or a pre-empted node would)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)
