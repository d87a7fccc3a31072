"""``EpochSeedHook``: every train epoch draws the same random numbers, resumed or not.

Upstream limitation: MMEngine 0.10.7's checkpoints carry no random state. A resumed run re-seeds
the process (``randomness.seed``) and so draws, in its first epoch, what the uninterrupted run
drew in epoch 1: with ``num_workers=0`` the random augmentations (mmcv's ``RandomFlip``,
``RandomCrop``, ... use numpy's global generator), dropout and anything else that uses the
process's generators differ after ``--resume``, for the base optimizer, SAM and AUSAM alike.

This hook re-seeds Python's, numpy's and torch's global generators before every train epoch
from (``runner.seed``, epoch), so an epoch's draws depend on nothing before it, and a run
resumed at an epoch boundary ends bit-identical to the uninterrupted one. ``tools/train.py``
adds it to every run. Data workers are processes of their own: MMEngine's ``worker_init_fn``
seeds each new worker identically in every epoch, so non-persistent workers are exact too;
*persistent* workers keep their generators across epochs and no checkpoint holds them, so a
resume with ``persistent_workers=True`` and random augmentation is not bit-exact; the hook
says so when such a run resumes (docs/reliability.md, "Resume: where it is bit-exact").

Examples:
    >>> custom_hooks = [dict(type='EpochSeedHook')]
"""
import logging
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...core.selection import draw_seed


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seeds the global generators from (seed, epoch) before every train epoch."""

    priority = 'VERY_HIGH'  # before any hook that draws random numbers

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        if runner.iter > 0 and getattr(loader, 'persistent_workers', False) and \
                getattr(loader, 'num_workers', 0) > 0:
            runner.logger.log(
                logging.WARNING,
                f'EpochSeedHook: resumed with persistent_workers=True and num_workers='
                f'{loader.num_workers}: the data workers\' random state (random augmentation) '
                'is in no checkpoint, so this run will not end bit-identical to an '
                'uninterrupted one. For an exact resume set '
                'train_dataloader.persistent_workers=False.')

    def before_train_epoch(self, runner) -> None:
        seed = draw_seed(runner.seed, runner.epoch)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)  # every device's generator
