"""Which checkpoint ``--resume`` (without a path) takes: the one the work dir's
``last_checkpoint`` names, found in this work dir when the work dir was moved or copied; an
empty or truncated checkpoint falls back to the newest intact one. Each departure from the
recorded latest checkpoint is a note the caller logs as a warning.
"""
import logging
import os
import os.path as osp
from typing import List, Optional, Tuple, Union

from mmengine.logging import print_log

from ..compat.checkpoint import CHECKPOINT_NAME, damage


def _numbered_checkpoints(work_dir: str) -> List[str]:
    """``epoch_N.pth`` / ``iter_N.pth`` of ``work_dir``, newest (largest N) first."""
    found = [(int(m.group(2)), name) for name in os.listdir(work_dir)
             if (m := CHECKPOINT_NAME.match(name))]
    return [osp.join(work_dir, name) for _, name in sorted(found, reverse=True)]


def _recorded_checkpoint(work_dir: str, notes: List[str]) -> Optional[str]:
    """The path in ``work_dir/last_checkpoint``, found again if the work dir was moved."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        path = f.read().strip()
    if not path:
        return None
    here = osp.join(work_dir, osp.basename(path))
    if osp.realpath(osp.dirname(path)) == osp.realpath(work_dir):
        return path
    if osp.isfile(here):  # a moved or copied work dir resumes its own file
        notes.append(f'{record} names {path}, outside this work dir (was it moved or '
                     f'copied?); resuming {here}, the file of that name in this work dir')
        return here
    if osp.isfile(path):
        notes.append(f'{record} names {path}, outside this work dir, which has no file of '
                     f'that name: resuming that outside file')
    return path


def find_resume_checkpoint(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The checkpoint that ``--resume`` (no path) loads, and notes on how it was chosen.

    The one ``last_checkpoint`` names (in this work dir if that was moved), else the newest
    ``epoch_N``/``iter_N`` file; an empty or truncated one is skipped for the next older intact
    one, with a note naming both files. ``(None, notes)`` when the work dir has no checkpoint
    (training starts from scratch, as in MMEngine); a work dir whose checkpoints are all
    damaged raises. Each note is a departure from the latest checkpoint as recorded, so the
    callers log them as warnings.
    """
    notes: List[str] = []
    if not osp.isdir(work_dir):
        return None, notes
    recorded = _recorded_checkpoint(work_dir, notes)
    candidates = ([recorded] if recorded else []) + [
        p for p in _numbered_checkpoints(work_dir)
        if not (recorded and osp.realpath(p) == osp.realpath(recorded))]
    for path in candidates:
        if not osp.isfile(path):
            notes.append(f'{path} (named by last_checkpoint) does not exist; skipped')
            continue
        reason = damage(path)
        if reason is None:
            if path != candidates[0]:
                notes.append(
                    f'resuming from {path} instead of {candidates[0]}, the latest checkpoint: '
                    'the run goes on from an earlier point than the latest one, and trains '
                    'again what came after it')
            return path, notes
        notes.append(f'checkpoint {path} {reason}; skipped')
    if candidates:
        raise RuntimeError(
            f'--resume: no intact checkpoint in {work_dir} ({"; ".join(notes)}). Delete the '
            'damaged files to train from scratch, or pass --resume PATH.')
    return None, notes


def resume_checkpoint_path(work_dir: str, resume: Union[bool, str] = True) -> Optional[str]:
    """The ``load_from`` that resumes from ``resume``: a path as given, or for True
    :func:`find_resume_checkpoint`'s choice (its notes go to the current logger)."""
    if resume is not True:
        return resume
    path, notes = find_resume_checkpoint(work_dir)
    for note in notes:
        print_log(f'[ausam_mm] {note}', logger='current', level=logging.WARNING)
    return path
