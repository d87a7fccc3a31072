"""Per-image losses for MMPose's one-stage heads (YOLOX-Pose, RTMO): every loss key, split.

A sample of a one-stage (bottom-up) dataset is an image with all its people. These heads
compute each loss over rows of prior points of all images at once - the objectness /
classification loss over every prior, the other losses over the positive priors - and
normalise by batch-wide counts (the batch's number of positives, the elements of a mean), so
no loss is a mean over images. The value of image i for a loss key is

    v_i = B * (the part of the batch's loss that the rows of image i contribute)

so that ``v.mean()`` is exactly the head's loss (MMEngine averages the vector), and a subset's
loss keeps the batch loss's scale. How: the head builds every loss module with
``reduction='none'`` (the same class and options otherwise), MMPose's own ``loss()`` runs
unchanged on the elementwise tensors (its divisions by the number of positives act row by
row), and each row is summed and scaled as the configured reduction would have weighed it
('sum': 1; 'mean' and 'none', which MMEngine averages: 1 / number of elements; for
``MLECCLoss``, which reduces within a row only, 'sum': 1 / number of rows), then the rows of
each image are added (priors are image-major; the positives per image are those of the head's
own target assignment).

Config (what ``--ausam`` writes): ``model.head.type='PerImageRTMOHead'`` (or
``'PerImageYOLOXPoseHead'``), every other option unchanged; the parameters are the same as the
MMPose head's, so checkpoints load either way.
"""
import inspect
from typing import Dict, List, Tuple

import torch
from mmengine.registry import MODELS
from mmpose.models.heads.hybrid_heads import RTMOHead, YOLOXPoseHead
from mmpose.registry import MODELS as POSE_MODELS
from torch import Tensor

#: Losses that reduce within each row only (the head gets one value per row and MMEngine
#: averages those): a 'sum' is then a mean over rows.
_WITHIN_ROW = ('MLECCLoss', )


class PerImageLossMixin:
    """Per-image loss vectors for a YOLOX-Pose-style head (see the module docstring)."""

    #: losses-dict key -> the head's loss module that computes it
    LOSS_MODULES: Dict[str, str] = {}
    #: the losses-dict key computed over all priors of all images (the others: positives)
    ALL_PRIORS_KEY: str = ''

    def __init__(self, **kwargs) -> None:
        reductions = {}
        for key, cfg in list(kwargs.items()):
            if key.startswith('loss_') and isinstance(cfg, dict):
                reductions[key] = _reduction(cfg, f'model.head.{key}')
                kwargs[key] = dict(cfg, reduction='none')
        super().__init__(**kwargs)
        self._configured_reductions = reductions
        self._positives_per_image: List[int] = []

    def _get_targets(self, *args, **kwargs) -> tuple:
        targets = super()._get_targets(*args, **kwargs)
        self._positives_per_image = [int(n) for n in targets[-1]]  # num_pos_per_img
        return targets

    def loss(self, feats: Tuple[Tensor], batch_data_samples: list, train_cfg: dict = {}) -> dict:
        losses = super().loss(feats, batch_data_samples, train_cfg)
        batch = len(batch_data_samples)
        for key, value in losses.items():
            if 'loss' not in key:
                continue
            if key not in self.LOSS_MODULES:
                raise RuntimeError(f'{type(self).__name__}: unknown loss key {key!r} (known: '
                                   f'{sorted(self.LOSS_MODULES)}); MMPose changed the head.')
            module = self.LOSS_MODULES[key]
            rows = value.flatten(1).sum(1) if value.ndim > 1 else value.reshape(-1)
            configured, within_row = self._configured_reductions[module]
            if configured == 'sum':
                rows = rows / len(rows) if within_row else rows
            else:
                rows = rows / max(value.numel(), 1)
            if key == self.ALL_PRIORS_KEY:
                counts = [len(rows) // batch] * batch
            else:
                counts = self._positives_per_image
            if sum(counts) != len(rows):
                raise RuntimeError(f'{type(self).__name__}: {key!r} has {len(rows)} rows, '
                                   f'the images have {counts}')
            image = torch.repeat_interleave(torch.arange(batch, device=rows.device),
                                            torch.tensor(counts, device=rows.device))
            losses[key] = rows.new_zeros(batch).index_add(0, image, rows) * batch
        return losses


def _reduction(cfg: dict, path: str) -> Tuple[str, bool]:
    """The reduction ``cfg`` asks for (or its class's default), and whether it is within rows."""
    cls = POSE_MODELS.get(cfg.get('type'))
    param = inspect.signature(cls.__init__).parameters.get('reduction') if cls else None
    if param is None:
        raise ValueError(f'--ausam: {path} is {cfg.get("type")!r}, which has no `reduction` '
                         'option; the per-image split needs its elementwise values. Train with '
                         '--sam.')
    reduction = cfg.get('reduction', param.default)
    if reduction not in ('mean', 'sum', 'none'):
        raise ValueError(f"{path}.reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction, cls.__name__ in _WITHIN_ROW


@MODELS.register_module()
class PerImageYOLOXPoseHead(PerImageLossMixin, YOLOXPoseHead):
    """MMPose's ``YOLOXPoseHead`` with one value per image for every loss key.

    Examples:
        >>> model = dict(head=dict(type='PerImageYOLOXPoseHead', ...))  # YOLOXPoseHead's args
    """

    LOSS_MODULES = {'loss_obj': 'loss_obj', 'loss_bbox': 'loss_bbox', 'loss_kpt': 'loss_oks',
                    'loss_vis': 'loss_vis', 'loss_cls': 'loss_cls',
                    'loss_bbox_aux': 'loss_bbox_aux', 'loss_kpt_aux': 'loss_kpt_aux'}
    ALL_PRIORS_KEY = 'loss_obj'


@MODELS.register_module()
class PerImageRTMOHead(PerImageLossMixin, RTMOHead):
    """MMPose's ``RTMOHead`` with one value per image for every loss key.

    Examples:
        >>> model = dict(head=dict(type='PerImageRTMOHead', ...))  # RTMOHead's args
    """

    LOSS_MODULES = {'loss_bbox': 'loss_bbox', 'loss_bbox_aux': 'loss_bbox_aux',
                    'loss_vis': 'loss_vis', 'loss_mle': 'loss_mle', 'loss_oks': 'loss_oks',
                    'loss_cls': 'loss_cls'}
    ALL_PRIORS_KEY = 'loss_cls'
