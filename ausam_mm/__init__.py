"""ausam_mm: SAM and AUSAM (Deng et al., AAAI 2025) for MMEngine, MMPose and Brevitas QAT.

``import ausam_mm`` (or ``custom_imports = dict(imports=['ausam_mm'])`` in a config) registers
into MMEngine's root registries, so the names resolve under any ``default_scope``:

- ``SAMOptimWrapper``, ``AmpSAMOptimWrapper``, ``AUSAMOptimWrapper``,
  ``AmpAUSAMOptimWrapper`` (OPTIM_WRAPPERS)
- ``AUSAMBatchSampler`` (DATA_SAMPLERS), ``AUSAMHook``, ``EpochSeedHook`` and
  ``CompileForwardHook`` (HOOKS), ``IndexedDataset`` (DATASETS)
- the adapters of the frameworks that are installed: MMPose per-sample losses
  (``ausam_mm.pose``), mmpretrain (``ausam_mm.cls``), Brevitas QAT (``ausam_mm.quant``).

One more thing changes for the whole process: MMEngine's loader of local checkpoint files is
replaced by an allow-list loader (``ausam_mm.compat.checkpoint``: no file runs code, and
MMEngine's checkpoints resume on torch >= 2.6). ``AUSAM_MM_CHECKPOINT_LOADER=0`` in the
environment before the import keeps MMEngine's own loader.
"""
from importlib import import_module
from importlib.util import find_spec

from . import engine  # noqa: F401  (registers)
from .version import __version__

ADAPTERS = {'cls': 'mmpretrain', 'pose': 'mmpose', 'quant': 'brevitas'}
for _adapter, _framework in ADAPTERS.items():
    if find_spec(_framework) is not None and find_spec(f'{__name__}.{_adapter}') is not None:
        import_module(f'.{_adapter}', __name__)

__all__ = ['__version__']
