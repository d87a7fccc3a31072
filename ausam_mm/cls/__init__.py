"""mmpretrain adapter: per-sample classification losses for AUSAM.

mmpretrain's classification losses already return one value per sample with
``reduction='none'`` (``ClsHead`` passes ``avg_factor``, which the 'none' reduction ignores),
so the adapter only rewrites configs; no loss code is wrapped. A loss's ``type`` is resolved
as MMEngine's registry resolves it, so ``'CrossEntropyLoss'``, ``'mmpretrain.CrossEntropyLoss'``
and the class itself are the same loss.
"""
from typing import Any, List, Optional

from mmpretrain.registry import MODELS as CLS_MODELS

from ..engine.convert import PER_SAMPLE_ADAPTERS

#: mmpretrain losses whose ``reduction='none'`` output has shape (batch,)
PER_SAMPLE_CLS_LOSSES = ('CrossEntropyLoss', 'LabelSmoothLoss', 'FocalLoss',
                         'AsymmetricLoss')


def per_sample_loss_class(loss_type: Any) -> Optional[type]:
    """The mmpretrain loss class of ``loss_type`` (a registry name, scoped or not, or a class)
    if it is one of :data:`PER_SAMPLE_CLS_LOSSES`, else None."""
    if isinstance(loss_type, str):
        try:
            loss_type = CLS_MODELS.get(loss_type)
        except KeyError:  # a scope that is not installed
            return None
    known = {CLS_MODELS.get(name) for name in PER_SAMPLE_CLS_LOSSES}
    return loss_type if loss_type in known else None


@PER_SAMPLE_ADAPTERS.register_module(name='mmpretrain', force=True)
def per_sample_cls_losses(model_cfg: Any, path: str = 'model', **_) -> List[str]:
    """Set ``reduction='none'`` on every mmpretrain loss config under ``model_cfg``, in dicts
    and lists (their mean reduction makes the subset's loss an estimate of the batch's)."""
    changes = []
    if isinstance(model_cfg, dict):
        loss = per_sample_loss_class(model_cfg.get('type'))
        if loss is not None:
            if model_cfg.get('reduction') != 'none':
                model_cfg['reduction'] = 'none'
                changes.append(f"{path}.reduction = 'none' ({loss.__name__})")
            return changes
        for key, value in model_cfg.items():
            changes += per_sample_cls_losses(value, f'{path}.{key}')
    elif isinstance(model_cfg, (list, tuple)):
        for i, value in enumerate(model_cfg):
            changes += per_sample_cls_losses(value, f'{path}[{i}]')
    return changes
