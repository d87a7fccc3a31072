"""The batch sampler (MMEngine's ``DATA_SAMPLERS``): ``AUSAMBatchSampler``."""
from .ausam_sampler import AUSAMBatchSampler

__all__ = ['AUSAMBatchSampler']
