"""MMEngine glue, laid out as MMEngine's own folders: ``optim_wrappers/`` (SAM, AUSAM, ESAM and
their AMP twins), ``samplers/`` (``AUSAMBatchSampler``), ``datasets/`` (``IndexedDataset``),
``hooks/`` (``AUSAMHook``, ``EpochSeedHook``, ``CompileForwardHook``); ``convert`` rewrites a
config for ``--sam``/``--ausam``/``--esam``, ``resume`` picks the checkpoint ``--resume`` loads,
``upgrade`` reads the checkpoints of earlier versions. Importing this module registers them.
"""
from .datasets import IndexedDataset
from .hooks import AUSAMHook, CompileForwardHook, EpochSeedHook
from .optim_wrappers import (AmpAUSAMOptimWrapper, AmpESAMOptimWrapper, AmpSAMOptimWrapper,
                             AUSAMOptimWrapper, ESAMOptimWrapper, SAMOptimWrapper)
from .resume import find_resume_checkpoint, resume_checkpoint_path
from .samplers import AUSAMBatchSampler
from ..compat.checkpoint import load_checkpoint_file

__all__ = [
    'SAMOptimWrapper', 'AmpSAMOptimWrapper', 'AUSAMOptimWrapper', 'AmpAUSAMOptimWrapper',
    'ESAMOptimWrapper', 'AmpESAMOptimWrapper', 'AUSAMBatchSampler', 'AUSAMHook',
    'IndexedDataset', 'EpochSeedHook', 'CompileForwardHook', 'find_resume_checkpoint',
    'load_checkpoint_file', 'resume_checkpoint_path'
]
