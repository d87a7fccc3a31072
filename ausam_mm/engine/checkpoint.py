"""Workaround: resuming MMEngine 0.10.7 runs on torch >= 2.6, without lowering load safety.

Upstream issue: torch 2.6 made ``torch.load(weights_only=True)`` the default, and MMEngine
0.10.7 loads every checkpoint with a plain ``torch.load`` while its checkpoints hold full
pickles (``HistoryBuffer``, numpy arrays, the score history) in ``meta``; resume then fails
with ``UnpicklingError`` (open-mmlab/mmengine#1650, open).

Fix, scoped to one case: a checkpoint *loader scheme* (MMEngine's own extension point) whose
prefix marks "this run's own checkpoint". ``tools/train.py --resume`` gives that prefix only
to checkpoints inside the run's work dir (:func:`resume_checkpoint_path`); those are unpickled
in full. Every other load (``load_from``, pretrained weights, ``--resume`` of a file elsewhere)
keeps torch's ``weights_only=True``. Nothing is changed process-wide.
"""
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.runner.checkpoint import CheckpointLoader, find_latest_checkpoint

RESUME_PREFIX = 'own-run://'


@CheckpointLoader.register_scheme(prefixes=RESUME_PREFIX)
def load_from_own_run(filename: str, map_location=None) -> dict:
    """Full unpickling of a checkpoint that ``resume_checkpoint_path`` vouched for."""
    path = filename[len(RESUME_PREFIX):]
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    return torch.load(path, map_location=map_location, weights_only=False)


def resume_checkpoint_path(work_dir: str, resume: Union[bool, str]) -> Optional[str]:
    """The ``load_from`` that resumes from ``resume`` (True: the latest in ``work_dir``).

    Returns None when ``resume`` is True and ``work_dir`` has no checkpoint (training starts
    from scratch, as MMEngine does). Raises ``ValueError`` for a checkpoint outside
    ``work_dir``: it is not this run's, so it is not unpickled in full.
    """
    path = find_latest_checkpoint(work_dir) if resume is True else resume
    if path is None:
        return None
    real, root = osp.realpath(path), osp.realpath(work_dir)
    if osp.commonpath([real, root]) != root:
        raise ValueError(
            f'--resume {path}: only checkpoints inside the work dir ({work_dir}) are resumed, '
            'because resuming unpickles the whole file. Pass --work-dir of the run that wrote '
            'it, or use `load_from` for its weights only.')
    return RESUME_PREFIX + real
