"""The known-harmless warnings of dependencies, silenced where the tools start and in the tests.

Every ``tools/*.py`` (and ``import benchmarks``) calls :func:`silence` before its other imports
(some of these warnings fire while the dependencies load), so a tool prints its own lines and
MMEngine's log, not a wall of third-party warnings. The test suite filters the same list
(:func:`filter_lines`, read by tests/conftest.py), so that any other warning shows in
pytest's summary. Each entry of :data:`KNOWN` names the message, the category and the module it
silences, and says why that warning is harmless here; anything else still shows.
``import ausam_mm`` changes no filter: a library leaves the warnings to its user.
docs/install.md lists the same set.

This module sits in ``tools/`` (not in the package) because a submodule of ``ausam_mm`` cannot
be imported without ``ausam_mm/__init__.py``, which loads MMEngine and MMPose, and with them
the first of these warnings.
"""
import logging
import os
import warnings
from typing import List, NamedTuple, Optional


class _DropMessage(logging.Filter):
    """Drops the records of one logger whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


class Known(NamedTuple):
    """One known warning: a regex of the start of its message, its category, and a regex of
    the module that raises it (None: any)."""
    message: str
    category: type
    module: Optional[str] = None


KNOWN: List[Known] = [
    # setuptools' pkg_resources warns on import that it is deprecated; mmengine's
    # utils/package_utils.py imports (and reloads) it whenever a config names `mmpose::...`,
    # so the warning comes from mmengine and from importlib's reload. requirements/lock.txt
    # pins setuptools<81, which still ships it.
    Known('pkg_resources is deprecated as an API', UserWarning),
    # MMPose's dataset configs name their metainfo as 'configs/_base_/datasets/<name>.py',
    # relative to a clone of MMPose; an installed MMPose reads the same file from its package
    # (mmpose/.mim/configs/...) and says so, once per dataset built.
    Known('The metainfo config file', UserWarning, r'mmpose\.datasets\.datasets\.utils'),
    # Brevitas looks for the optional CUDA kernel of fast Hadamard transforms when it loads its
    # graph equalization module; those rotations are not used by layerwise QAT
    # (ausam_mm.quant), which needs plain PyTorch only.
    Known('fast_hadamard_transform package not found', UserWarning, r'brevitas\.graph\.equalize'),
    # albumentations warns that 2.x exists when its update check runs (NO_ALBUMENTATIONS_UPDATE
    # below skips the check; a process that imported it before silence() still warns). The pin
    # to 1.4.24 is deliberate (2.x ignores the CoarseDropout arguments of MMPose's configs).
    Known('A new version of Albumentations is available', UserWarning),
    # On torch < 2.2 (the compat end, 2.1.2) Brevitas warns through torch on import and on
    # use: brevitas/graph/base.py calls torch.overrides.get_testing_overrides(), which reads
    # torch.has_cuda, has_cudnn, has_mps and has_mkldnn, deprecated attributes in torch 2.1; and
    # brevitas/utils/torch_utils.py names the dimensions of quantized tensors (Tensor.rename),
    # which torch 2.1 calls an experimental feature (names are dropped on torch >= 2.13).
    # Neither changes what is computed. (torch 2.1's cpp_extension prints its "No CUDA runtime
    # is found" line with print(), which no filter reaches; later torch logs it, see below.)
    Known(r"'has_(cuda|cudnn|mps|mkldnn)' is deprecated", UserWarning, r'torch\.overrides'),
    Known('Named tensors and all their associated APIs', UserWarning),
    # torch 2.1 warns from its own torch/_utils.py when torch.save or DDP's parameter
    # broadcast touches a tensor's TypedStorage; what is saved and sent is the same.
    Known('TypedStorage is deprecated', UserWarning, r'torch\._utils'),
    # MMEngine keeps one visualizer per name for the process; a second Runner in the same
    # process (the studies, the demo, the tests) whose config names the same visualizer gets
    # the existing one and a warning. Each run still logs to its own files.
    Known('.* instance named of visualizer has been created', UserWarning,
          r'mmengine\.utils\.manager'),
    # Raised inside MMPose and MMEngine code on the inputs of the models the tests train; none
    # changes what is computed: YOLOX-Pose's grid_sample call (align_corners default), its
    # SimOTA assigner's and mmdet's CSPNeXt layers' torch.cuda.amp.autocast spelling (RTMPose,
    # RTMO; autocast disabled, so a no-op on the CPU), MMPose's Albumentation transform naming
    # the non-pixel-level transforms of RTMPose's pipeline (Blur, MedianBlur, CoarseDropout,
    # which it applies as configured), MMPose's GetBBoxCenterScale reusing a given box centre,
    # MMEngine's PixelData adding a channel axis, torch.meshgrid called without `indexing` by
    # MMPose, and Dynamo or torch.fx copying a tensor constant while it traces (with a cold
    # inductor cache).
    Known('Default grid_sample and affine_grid behavior has changed', UserWarning,
          r'(mmpose\.models\.heads|torch\.nn\.functional)'),  # torch < 2.2: the latter
    Known(r'`torch\.cuda\.amp\.autocast\(args\.\.\.\)` is deprecated', FutureWarning,
          r'(mmpose\.models\.task_modules\.assigners|mmdet\.models)'),
    Known('.* is not pixel-level transformations', UserWarning, r'mmpose\.datasets\.transforms'),
    Known('Use the existing "bbox_center" and "bbox_scale"', UserWarning,
          r'mmpose\.datasets\.transforms'),
    Known('The shape of value will convert from', UserWarning, r'mmengine\.structures'),
    Known(r'torch\.meshgrid. in an upcoming release', UserWarning, r'torch\.functional'),
    Known('To copy construct from a tensor, it is recommended', UserWarning,
          r'torch\.(_dynamo|fx)'),
]


def silence() -> None:
    """Filter :data:`KNOWN`, skip albumentations' update check, and drop torch's log line about
    a missing CUDA toolkit."""
    # albumentations (imported by MMPose's transforms) asks PyPI for a newer release on import;
    # the variable also skips the network call.
    os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
    for known in KNOWN:
        warnings.filterwarnings('ignore', message=known.message, category=known.category,
                                module=known.module or '')
    # torch.utils.cpp_extension (imported while Brevitas loads) logs that it found no CUDA
    # toolkit on a machine without one; only compiling CUDA extensions would need it, and the
    # tools compile nothing.
    logging.getLogger('torch.utils.cpp_extension').addFilter(
        _DropMessage('No CUDA runtime is found'))


def filter_lines() -> List[str]:
    """:data:`KNOWN` as pytest ``filterwarnings`` lines (``ignore:message:category:module``;
    a message regex holds no colon, pytest's separator)."""
    return [f'ignore:{k.message}:{k.category.__name__}:{k.module or ""}' for k in KNOWN]
