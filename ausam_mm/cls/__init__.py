"""mmpretrain adapter: per-sample classification losses for AUSAM.

mmpretrain's classification losses already return one value per sample with
``reduction='none'`` (``ClsHead`` passes ``avg_factor``, which the 'none' reduction ignores),
so the adapter only rewrites configs; no loss code is wrapped.
"""
from typing import Any, List

from ..engine.convert import PER_SAMPLE_ADAPTERS

#: mmpretrain losses whose ``reduction='none'`` output has shape (batch,)
PER_SAMPLE_CLS_LOSSES = ('CrossEntropyLoss', 'LabelSmoothLoss', 'FocalLoss',
                         'AsymmetricLoss')


def per_sample_cls_losses(model_cfg: Any, path: str = 'model', **_) -> List[str]:
    """Set ``reduction='none'`` on every mmpretrain loss config under ``model_cfg``
    (their mean reduction makes the subset's loss an estimate of the batch's as it is)."""
    changes = []
    if isinstance(model_cfg, dict):
        for key, value in model_cfg.items():
            if isinstance(value, dict) and value.get('type') in PER_SAMPLE_CLS_LOSSES \
                    and value.get('reduction') != 'none':
                value['reduction'] = 'none'
                changes.append(f"{path}.{key}.reduction = 'none' ({value['type']})")
            else:
                changes += per_sample_cls_losses(value, f'{path}.{key}')
    elif isinstance(model_cfg, (list, tuple)):
        for i, value in enumerate(model_cfg):
            changes += per_sample_cls_losses(value, f'{path}[{i}]')
    return changes


PER_SAMPLE_ADAPTERS.append(per_sample_cls_losses)
