"""Workaround: MMEngine 0.10.7 loads checkpoints so that they either fail or may run code.

Upstream issue: MMEngine's loader of local files is a plain ``torch.load`` (open-mmlab/mmengine
#1650, open). On torch >= 2.6 (``weights_only=True`` by default) its own checkpoints then fail
to load, by ``resume`` and by ``load_from`` alike (``meta`` holds ``HistoryBuffer`` objects and
numpy arrays); on torch < 2.6 every file is unpickled in full, so a checkpoint planted in a work
dir runs its code.

Fix: MMEngine's loader for local paths (scheme prefix ``''``) is replaced, through MMEngine's
own extension point ``CheckpointLoader.register_scheme(..., force=True)``, by
:func:`load_checkpoint_file`, which unpickles with an allow-list
(:mod:`ausam_mm.compat.allowlist_pickle`: torch's weights-only types plus numpy arrays and
``HistoryBuffer``) on every torch version. An own checkpoint loads by ``load_from`` and by
``resume`` from anywhere; no file runs code; ``weights_only`` is never turned off. Nothing of
torch or MMEngine is patched: loads that do not go through ``CheckpointLoader`` keep torch's
defaults. Delete this module when MMEngine loads its own checkpoints safely on torch >= 2.6.

Scope: importing ``ausam_mm`` (which imports this module) replaces MMEngine's loader of local
checkpoint files for the whole process: every ``load_checkpoint`` / ``load_from`` /
``resume`` of a local path through MMEngine's ``CheckpointLoader`` then uses the allow-list,
in this project's runs and in any other code of the process. Nothing else is changed. To keep
MMEngine's own loader, set ``AUSAM_MM_CHECKPOINT_LOADER=0`` in the environment before
``import ausam_mm`` (on torch >= 2.6 MMEngine then cannot resume its own checkpoints)::

    AUSAM_MM_CHECKPOINT_LOADER=0 python -m ausam_mm.cli.train CONFIG

Which checkpoint ``--resume`` takes is :mod:`ausam_mm.engine.resume`'s.
"""
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from . import allowlist_pickle

CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')

REFUSED = """\
{path} holds {name!r}, which is not a tensor, a container, a numpy array or an MMEngine log
buffer: loading it would run code from the file, so ausam_mm does not unpickle it. Only
checkpoints saved by MMEngine runs (any ausam_mm run included) load as they are. If you trust
this file, keep its weights only, once, and set `load_from` to the result:
    python -c "import torch; c = torch.load('{path}', weights_only=False); \
torch.save(dict(state_dict=c.get('state_dict', c)), 'weights_only.pth')\""""


def damage(path: str) -> Optional[str]:
    """Why ``path`` cannot be a checkpoint (empty, or a zip archive cut short), else None."""
    size = osp.getsize(path)
    if size == 0:
        return 'is empty (0 bytes)'
    with open(path, 'rb') as f:
        is_zip = f.read(4) == b'PK\x03\x04'
    if is_zip and not zipfile.is_zipfile(path):
        return f'is truncated ({size} bytes, no zip directory at its end)'
    return None


def load_checkpoint_file(path: str, map_location=None) -> dict:
    """``torch.load`` of a local checkpoint through the allow-list; errors name the file."""
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} can not be found. If the work dir was moved or copied, `--resume` '
            '(`python -m ausam_mm.cli.train CONFIG --resume`) resumes the same file name from '
            'the new work dir.')
    reason = damage(path)
    try:
        if reason is None:
            return torch.load(path, map_location=map_location, weights_only=False,
                              pickle_module=allowlist_pickle)
    except allowlist_pickle.RefusedGlobal as e:
        raise pickle.UnpicklingError(REFUSED.format(path=path, name=e.global_name)) from None
    except (EOFError, zipfile.BadZipFile) as e:
        reason = f'is damaged ({type(e).__name__}: {e})'
    except RuntimeError as e:  # torch's zip reader: a corrupt archive
        if 'PytorchStreamReader' not in str(e):
            raise
        reason = f'is damaged ({e})'
    raise RuntimeError(
        f'checkpoint {path} {reason}: it was probably cut short while being saved. Delete it '
        'and resume from an earlier checkpoint (`--resume` of `python -m ausam_mm.cli.train` '
        'takes the newest intact one of the work dir), or set `load_from` to another file.')


#: the environment variable that keeps MMEngine's own loader of local files (``0``)
LOADER_ENV = 'AUSAM_MM_CHECKPOINT_LOADER'


def load_from_local(filename: str, map_location=None) -> dict:
    """MMEngine's loader of local files, with the allow-list (see the module's docstring)."""
    return load_checkpoint_file(filename, map_location)


def allowlist_loader_enabled() -> bool:
    """Whether ``import ausam_mm`` registers :func:`load_from_local` (``LOADER_ENV``)."""
    value = os.environ.get(LOADER_ENV, '1').strip()
    if value not in ('0', '1', ''):
        raise ValueError(
            f'{LOADER_ENV} must be 0 (keep MMEngine\'s own checkpoint loader) or 1 (the '
            f'allow-list loader of ausam_mm, the default), got {value!r}')
    return value != '0'


if allowlist_loader_enabled():
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
