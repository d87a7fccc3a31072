"""The MMPose adapter of ``to_ausam`` / ``tools/train.py --ausam``: per-sample head losses.

It rewrites the head loss(es) of an MMPose pose estimator config to :class:`PerSampleLoss`::

    head=dict(type='SimCCHead', loss=dict(type='KLDiscretLoss', use_target_weight=True))
    # becomes
    head=dict(type='SimCCHead', loss=dict(type='PerSampleLoss',
                                          loss=dict(type='KLDiscretLoss', use_target_weight=True)))

A head without ``loss`` gets its default loss (read from the head's signature) wrapped; a list
of losses (``CPMHead``: one per stage) is wrapped element by element; losses already wrapped
are left as they are, so converting twice is converting once. Anything it cannot vouch for -
a head not in :data:`PER_SAMPLE_HEADS`, a loss without a known batch reduction - raises with
the fix, instead of training AUSAM on wrong scores.
"""
import copy
import inspect
from typing import Any, List, Optional

from mmpose.registry import MODELS as POSE_MODELS

from .per_sample_loss import BATCH_REDUCTIONS, is_known

#: Heads whose ``loss()`` passes batch-first tensors, one row per sample, to their loss
#: module(s) and adds the results (checked in tests/test_pose_losses.py).
PER_SAMPLE_HEADS = ('HeatmapHead', 'ViPNASHead', 'CPMHead', 'SimCCHead', 'RTMCCHead',
                    'RegressionHead', 'RLEHead', 'IntegralRegressionHead', 'DSNTHead')

_FIX = ("Fix: if the loss is the mean (or sum) over the batch of independent per-sample terms "
        "and the head passes it one row per sample, write in the config\n"
        "    {path} = dict(type='PerSampleLoss', loss=<the loss>, batch_reduction='mean')  "
        "# or 'sum'\n(the adapter leaves PerSampleLoss alone); otherwise train with --sam.")


def per_sample_pose_losses(model_cfg: Any, path: str = 'model',
                           batch_size: Optional[int] = None) -> List[str]:
    """Wrap the head loss(es) of an MMPose pose estimator config in ``PerSampleLoss``.

    ``batch_size`` (the train dataloader's) is given to every ``PerSampleLoss``; only
    batch-sum losses use it (see :class:`PerSampleLoss`).

    A model wrapper that holds the pose model config under ``model`` (``BrevitasQATModel``)
    is looked into. Returns the changes made; ``[]`` for a model that is not MMPose's.
    """
    if not isinstance(model_cfg, dict):
        return []
    estimator = _pose_class(model_cfg.get('type'))
    if estimator is None:  # maybe a wrapper holding the pose model (BrevitasQATModel)
        inner = model_cfg.get('model')
        if not isinstance(inner, dict):
            return []
        return per_sample_pose_losses(inner, f'{path}.model', batch_size)
    from mmpose.models.pose_estimators.base import BasePoseEstimator  # loaded by now
    head = model_cfg.get('head')
    if not issubclass(estimator, BasePoseEstimator) or not isinstance(head, dict):
        raise ValueError(
            f"--ausam: {path}.type={model_cfg['type']!r} is an MMPose model without a head "
            'loss ausam_mm knows how to split per sample. ' + _FIX.format(path=f'{path}.head.loss'))
    loss_path = f'{path}.head.loss'
    head_type = _name(head.get('type'))
    loss = head.get('loss', _default_loss(head.get('type')))
    own = {k: v for k, v in head.items() if 'loss' in k and isinstance(v, (dict, list, tuple))}
    if own and all(_all_wrapped(v) for v in own.values()):
        return []  # wrapped by the user (any head, any loss key): left as it is
    if head_type not in PER_SAMPLE_HEADS:
        raise ValueError(
            f'--ausam: {path}.head.type={head_type!r} is not among the heads verified to '
            f'pass one row per sample to their loss {PER_SAMPLE_HEADS}. '
            + _FIX.format(path=loss_path))
    head['loss'] = _wrap(loss, loss_path, batch_size)
    return [f"{loss_path} = PerSampleLoss({_describe(loss)}, batch_size={batch_size})"]


def _pose_class(type_name: Any) -> Optional[type]:
    """The MMPose model class of ``type_name``; None when it is not an MMPose model."""
    cls = POSE_MODELS.get(type_name) if isinstance(type_name, str) else type_name
    if not isinstance(cls, type) or not cls.__module__.startswith('mmpose.'):
        return None
    return cls


def _name(type_name: Any) -> str:
    if isinstance(type_name, str):
        return type_name.split('.')[-1]
    return getattr(type_name, '__name__', repr(type_name))


def _default_loss(head_type: Any) -> Any:
    head_cls = POSE_MODELS.get(head_type) if isinstance(head_type, str) else head_type
    param = inspect.signature(head_cls.__init__).parameters.get('loss') if head_cls else None
    return copy.deepcopy(param.default) if param is not None else None


def _all_wrapped(loss: Any) -> bool:
    if isinstance(loss, (list, tuple)):
        return bool(loss) and all(_all_wrapped(x) for x in loss)
    return isinstance(loss, dict) and _name(loss.get('type')) == 'PerSampleLoss'


def _wrap(loss: Any, path: str, batch_size: Optional[int]) -> Any:
    if isinstance(loss, (list, tuple)):
        return [_wrap(x, f'{path}[{i}]', batch_size) for i, x in enumerate(loss)]
    if _all_wrapped(loss):
        return loss
    _check_known(loss, path)
    return dict(type='PerSampleLoss', loss=loss, batch_size=batch_size)


def _check_known(loss: Any, path: str) -> None:
    kind = loss.get('type') if isinstance(loss, dict) else None
    cls = POSE_MODELS.get(kind) if isinstance(kind, str) else kind
    if not is_known(cls):
        known = sorted(BATCH_REDUCTIONS)
        raise ValueError(f'--ausam: {path} is {_describe(loss)}, whose batch reduction '
                         f'ausam_mm does not know (known: {known}). ' + _FIX.format(path=path))
    for i, inner in enumerate(loss.get('losses', [])):  # MultipleLossWrapper
        _check_known(inner, f'{path}.losses[{i}]')


def _describe(loss: Any) -> str:
    if isinstance(loss, (list, tuple)):
        return '[' + ', '.join(_describe(x) for x in loss) + ']'
    if isinstance(loss, dict):
        return _name(loss.get('type'))
    return repr(loss)
