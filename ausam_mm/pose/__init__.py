"""MMPose adapter: per-sample pose losses for AUSAM, and the ``--ausam`` config rewrite.

- :class:`PerSampleLoss` (root ``MODELS``, so MMPose builds it under
  ``default_scope='mmpose'``): wraps an MMPose loss and returns one value per sample whose
  mean is the loss's own value.
- :class:`PerImageYOLOXPoseHead`, :class:`PerImageRTMOHead`: the one-stage heads with one
  value per image for every loss key; :class:`PerSampleDWPoseDistiller`: DWPose distillation
  with per-sample losses.
- :class:`LSPDataset` (MMPose's ``DATASETS``): Leeds Sports Pose (Extended), and
  :class:`TorsoPCKAccuracy` (MMPose's ``METRICS``): PCK normalised by the torso, LSP's metric.
- :func:`per_sample_pose_losses`, registered in ``ausam_mm.engine.convert.PER_SAMPLE_ADAPTERS``:
  rewrites a pose model config so that every loss key is per sample (``docs/pose.md``).
"""
from ..engine.convert import PER_SAMPLE_ADAPTERS
from .convert import PER_IMAGE_HEADS, ROW_HEADS, UNSPLIT_HEADS, per_sample_pose_losses
from .datasets import LSPDataset
from .distiller import PerSampleDWPoseDistiller
from .metrics import TorsoPCKAccuracy
from .per_image_heads import PerImageRTMOHead, PerImageYOLOXPoseHead
from .per_sample_loss import BATCH_COUNTS, BATCH_REDUCTIONS, PerSampleLoss, reduction_of

PER_SAMPLE_ADAPTERS.register_module(name='mmpose', module=per_sample_pose_losses, force=True)

__all__ = ['PerSampleLoss', 'BATCH_REDUCTIONS', 'BATCH_COUNTS', 'reduction_of',
           'ROW_HEADS', 'PER_IMAGE_HEADS', 'UNSPLIT_HEADS',
           'PerImageYOLOXPoseHead', 'PerImageRTMOHead', 'PerSampleDWPoseDistiller',
           'per_sample_pose_losses', 'LSPDataset', 'TorsoPCKAccuracy']
