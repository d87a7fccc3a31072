"""Workaround: ``--launcher pytorch`` on machines without a GPU (CPU clusters, tests).

Upstream limitation: MMEngine 0.10.7's ``init_dist('pytorch')`` (``mmengine/dist/utils.py``,
``_init_dist_pytorch``) calls ``torch.cuda.set_device(LOCAL_RANK)`` before it opens the process
group, whatever the backend, so ``torchrun -m ausam_mm.cli.train CONFIG --launcher pytorch``
stops with "Found no NVIDIA driver" on a CPU machine; and ``Runner.wrap_model`` gives its DDP
wrapper ``device_ids=[LOCAL_RANK]``, which DDP refuses for a module on the CPU. (open-mmlab/mmengine
#973 made that index the local rank; the call itself is unconditional up to 0.10.7.)

:func:`init_cpu_dist` does on such a machine what ``init_dist`` would do with a CPU backend:
it opens the process group (gloo, or the config's ``env_cfg.dist_cfg.backend`` when that is
not nccl, with its ``timeout``), so that the Runner skips ``init_dist``, and names the DDP
wrapper without ``device_ids``. With a GPU present it does nothing. Delete this module when an
MMEngine release opens a process group without CUDA (``init_dist`` guards ``set_device`` with
``torch.cuda.is_available()``).

Examples:
    >>> cfg = Config.fromfile(path)          # cfg.launcher = 'pytorch', run by torchrun
    >>> notes = init_cpu_dist(cfg)          # before Runner.from_cfg(cfg)
"""
import datetime
import os
from typing import List

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

#: MMEngine's default wrapper options (``Runner.wrap_model``), without ``device_ids``
CPU_DDP = dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)


def init_cpu_dist(cfg: Config) -> List[str]:
    """Open the process group of a ``launcher='pytorch'`` run on a machine without CUDA and
    wrap the model for DDP on the CPU; returns what it did, for the log (nothing with a GPU,
    another launcher or a process group already open)."""
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available() or \
            torch_dist.is_initialized():
        return []
    dist_cfg = dict((cfg.get('env_cfg') or {}).get('dist_cfg') or {})
    backend = dist_cfg.pop('backend', 'nccl')
    if backend == 'nccl':  # MMEngine's default, which needs CUDA
        backend = 'gloo'
    if dist_cfg.get('timeout') is not None:
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch_dist.init_process_group(backend=backend, rank=int(os.environ['RANK']),
                                  world_size=int(os.environ['WORLD_SIZE']), **dist_cfg)
    notes = [f'no CUDA device: opened the {backend} process group (rank '
             f'{torch_dist.get_rank()} of {torch_dist.get_world_size()}) for --launcher pytorch']
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            CPU_DDP, find_unused_parameters=cfg.get('find_unused_parameters', False))
        notes.append('model_wrapper_cfg: MMDistributedDataParallel without device_ids (CPU)')
    else:
        name = wrapper.get('type', CPU_DDP['type'])
        wrapper_type = name if isinstance(name, type) else MODEL_WRAPPERS.get(name)
        if 'device_ids' not in wrapper and isinstance(wrapper_type, type) and \
                issubclass(wrapper_type, DistributedDataParallel):
            wrapper['device_ids'] = None
            notes.append(f'model_wrapper_cfg: {getattr(name, "__name__", name)} without '
                         'device_ids (CPU)')
    return notes
