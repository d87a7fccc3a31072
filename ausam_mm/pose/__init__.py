"""MMPose adapter: per-sample pose losses for AUSAM, and the ``--ausam`` config rewrite.

- :class:`PerSampleLoss` (root ``MODELS``, so MMPose heads build it under
  ``default_scope='mmpose'``): wraps an MMPose loss and returns one value per sample whose
  mean is the loss's own value.
- :func:`per_sample_pose_losses`, appended to ``ausam_mm.engine.convert.PER_SAMPLE_ADAPTERS``:
  rewrites a pose estimator config's head loss(es) to ``PerSampleLoss``.
"""
from ..engine.convert import PER_SAMPLE_ADAPTERS
from .convert import PER_SAMPLE_HEADS, per_sample_pose_losses
from .per_sample_loss import BATCH_REDUCTIONS, PerSampleLoss, reduction_of

if per_sample_pose_losses not in PER_SAMPLE_ADAPTERS:
    PER_SAMPLE_ADAPTERS.append(per_sample_pose_losses)

__all__ = ['PerSampleLoss', 'BATCH_REDUCTIONS', 'reduction_of', 'PER_SAMPLE_HEADS',
           'per_sample_pose_losses']
