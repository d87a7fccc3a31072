"""MMEngine glue: optimizer wrappers, the AUSAM batch sampler, the index-carrying dataset
wrapper, and the resume loader. Importing this module registers them."""
from .ausam_optim_wrapper import AmpAUSAMOptimWrapper, AUSAMOptimWrapper
from .ausam_sampler import AUSAMBatchSampler
from .checkpoint import RESUME_PREFIX, resume_checkpoint_path
from .indexed_dataset import IndexedDataset
from .sam_optim_wrapper import AmpSAMOptimWrapper, SAMOptimWrapper

__all__ = [
    'SAMOptimWrapper', 'AmpSAMOptimWrapper', 'AUSAMOptimWrapper', 'AmpAUSAMOptimWrapper',
    'AUSAMBatchSampler', 'IndexedDataset', 'RESUME_PREFIX', 'resume_checkpoint_path'
]
