"""The optimizer wrappers (MMEngine's ``OPTIM_WRAPPERS``): SAM, AUSAM and ESAM, fp32 and AMP."""
from .ausam import AmpAUSAMOptimWrapper, AUSAMOptimWrapper
from .esam import AmpESAMOptimWrapper, ESAMOptimWrapper
from .sam import AmpSAMOptimWrapper, SAMOptimWrapper

__all__ = ['SAMOptimWrapper', 'AmpSAMOptimWrapper', 'AUSAMOptimWrapper', 'AmpAUSAMOptimWrapper',
           'ESAMOptimWrapper', 'AmpESAMOptimWrapper']
