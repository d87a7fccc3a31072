"""The known-harmless warnings of dependencies, silenced where the tools start.

Every ``tools/*.py`` calls :func:`silence` before its other imports (some of these warnings
fire while the dependencies load), so a tool prints its own lines and MMEngine's log, not a
wall of third-party warnings. Each filter names the module and the message it silences, and
says why that warning is harmless here; anything else still shows. ``import ausam_mm`` changes
no filter: a library leaves the warnings to its user. docs/install.md lists the same set.

This module sits in ``tools/`` (not in the package) because a submodule of ``ausam_mm`` cannot
be imported without ``ausam_mm/__init__.py``, which loads MMEngine and MMPose, and with them
the first of these warnings.
"""
import logging
import os
import warnings


class _DropMessage(logging.Filter):
    """Drops the records of one logger whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def silence() -> None:
    # albumentations (imported by MMPose's transforms) asks PyPI for a newer release on import
    # and warns that 2.x exists; the pin to 1.4.24 is deliberate (2.x ignores the CoarseDropout
    # arguments of MMPose's configs, docs/install.md). The variable also skips the network call.
    os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')

    # setuptools' pkg_resources warns on import that it is deprecated; mmengine's
    # utils/package_utils.py imports (and reloads) it whenever a config names `mmpose::...`,
    # so the warning comes from mmengine and from importlib's reload. requirements/lock.txt
    # pins setuptools<81, which still ships it.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated as an API',
                            category=UserWarning)

    # MMPose's dataset configs name their metainfo as 'configs/_base_/datasets/<name>.py',
    # relative to a clone of MMPose; an installed MMPose reads the same file from its package
    # (mmpose/.mim/configs/...) and says so, once per dataset built.
    warnings.filterwarnings('ignore', message='The metainfo config file',
                            category=UserWarning, module=r'mmpose\.datasets\.datasets\.utils')

    # Brevitas looks for the optional CUDA kernel of fast Hadamard transforms when it loads its
    # graph equalization module; those rotations are not used by layerwise QAT
    # (ausam_mm.quant), which needs plain PyTorch only.
    warnings.filterwarnings('ignore', message='fast_hadamard_transform package not found',
                            category=UserWarning, module=r'brevitas\.graph\.equalize')

    # torch.utils.cpp_extension (imported while Brevitas loads) logs that it found no CUDA
    # toolkit on a machine without one; only compiling CUDA extensions would need it, and the
    # tools compile nothing.
    logging.getLogger('torch.utils.cpp_extension').addFilter(
        _DropMessage('No CUDA runtime is found'))

    # On torch < 2.2 (the compat end, 2.1.2) Brevitas warns through torch on import and on
    # use: brevitas/graph/base.py calls torch.overrides.get_testing_overrides(), which reads
    # torch.has_cuda, has_cudnn, has_mps and has_mkldnn, deprecated attributes in torch 2.1; and
    # brevitas/utils/torch_utils.py names the dimensions of quantized tensors (Tensor.rename),
    # which torch 2.1 calls an experimental feature (names are dropped on torch >= 2.13).
    # Neither changes what is computed. (torch 2.1's cpp_extension prints its "No CUDA runtime
    # is found" line with print(), which no filter reaches; later torch logs it, see above.)
    warnings.filterwarnings('ignore', message=r"'has_(cuda|cudnn|mps|mkldnn)' is deprecated",
                            category=UserWarning, module=r'torch\.overrides')
    warnings.filterwarnings('ignore', message='Named tensors and all their associated APIs',
                            category=UserWarning)
