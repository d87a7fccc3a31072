"""MMEngine glue: optimizer wrappers, the AUSAM batch sampler, the hook that links them, the
index-carrying dataset wrapper, the hook that compiles the model's forward, and the checkpoint
loader that never runs code from a file. Importing this module registers them."""
from .ausam_hook import AUSAMHook
from .ausam_optim_wrapper import AmpAUSAMOptimWrapper, AUSAMOptimWrapper
from .ausam_sampler import AUSAMBatchSampler
from .checkpoint import find_resume_checkpoint, load_checkpoint_file, resume_checkpoint_path
from .compile_hook import CompileForwardHook
from .epoch_seed_hook import EpochSeedHook
from .esam_optim_wrapper import AmpESAMOptimWrapper, ESAMOptimWrapper
from .indexed_dataset import IndexedDataset
from .sam_optim_wrapper import AmpSAMOptimWrapper, SAMOptimWrapper

__all__ = [
    'SAMOptimWrapper', 'AmpSAMOptimWrapper', 'AUSAMOptimWrapper', 'AmpAUSAMOptimWrapper',
    'ESAMOptimWrapper', 'AmpESAMOptimWrapper', 'AUSAMBatchSampler', 'AUSAMHook',
    'IndexedDataset', 'EpochSeedHook', 'CompileForwardHook', 'find_resume_checkpoint',
    'load_checkpoint_file', 'resume_checkpoint_path'
]
