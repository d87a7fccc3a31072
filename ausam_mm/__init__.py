"""ausam_mm: SAM and AUSAM (Deng et al., AAAI 2025) for MMEngine, MMPose and Brevitas QAT.

``import ausam_mm`` (or ``custom_imports = dict(imports=['ausam_mm'])`` in a config) registers
into MMEngine's root registries, so the names resolve under any ``default_scope``:

- ``SAMOptimWrapper``, ``AmpSAMOptimWrapper``, ``AUSAMOptimWrapper``,
  ``AmpAUSAMOptimWrapper`` (OPTIM_WRAPPERS)
- ``AUSAMBatchSampler`` (DATA_SAMPLERS), ``IndexedDataset`` (DATASETS)
"""
from . import engine  # noqa: F401  (registers)
from .version import __version__

__all__ = ['__version__']
