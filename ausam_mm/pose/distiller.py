"""``PerSampleDWPoseDistiller``: MMPose's DWPose distiller with per-sample losses.

``DWPoseDistiller`` builds its student and teacher from config *files* (``student_cfg``,
``teacher_cfg``), so a config rewrite cannot reach the student's head loss. This subclass
builds exactly what MMPose builds, then wraps the built loss modules in :class:`PerSampleLoss`:
the student head's loss (``loss_kpt``; a head ``--ausam`` vouches for, with ``batch_size`` for
batch-sum losses such as RTMPose's ``KLDiscretLoss``) and every distillation loss
(``loss_fea``: ``FeaLoss``, the feature MSE summed per sample and averaged over the batch;
``loss_logit``: ``KDLoss``, the per-sample sum over keypoints averaged over the batch). Each
vector's mean is the distiller's own loss; the epoch decay ``1 - epoch / max_epochs`` scales
the vectors as it scales the scalars. Parameter names are unchanged (the wrapper keeps the
wrapped module's state-dict names), so checkpoints load either way.

Examples:
    >>> model = dict(type='PerSampleDWPoseDistiller', batch_size=32,  # train batch size
    >>>              teacher_cfg=..., student_cfg=..., distill_cfg=...)  # DWPoseDistiller's
"""
from typing import Optional

from mmengine.registry import MODELS
from mmpose.models.distillers import DWPoseDistiller

from .per_sample_loss import PerSampleLoss


@MODELS.register_module()
class PerSampleDWPoseDistiller(DWPoseDistiller):
    """``DWPoseDistiller`` whose every loss key is one value per sample.

    Args:
        batch_size: the train dataloader's batch size, for the student's batch-sum loss (see
            :class:`PerSampleLoss`); ``--ausam`` sets it.
        **kwargs: ``DWPoseDistiller``'s arguments.
    """

    def __init__(self, *args, batch_size: Optional[int] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from .convert import ROW_HEADS  # the heads whose losses see one row per sample
        head = self.student.head
        if type(head).__name__ not in ROW_HEADS or ROW_HEADS[type(head).__name__] != ('loss', ):
            raise ValueError(f'PerSampleDWPoseDistiller: the student head {type(head).__name__} '
                             f'is not among the one-loss heads verified per sample '
                             f'{sorted(k for k, v in ROW_HEADS.items() if v == ("loss", ))}.')
        if not isinstance(head.loss_module, PerSampleLoss):
            head.loss_module = PerSampleLoss(head.loss_module, batch_size=batch_size)
        for name in list(self.distill_losses):
            if not isinstance(self.distill_losses[name], PerSampleLoss):
                self.distill_losses[name] = PerSampleLoss(self.distill_losses[name])
