"""The MMPose adapter of ``to_ausam`` / ``tools/train.py --ausam``: per-sample losses.

A sample is what the dataset index names: an instance for top-down models, an image (all its
people) for bottom-up and one-stage models, a sequence for 3D lifting. Three kinds of model:

- heads that pass batch-first tensors, one row per sample, to every loss module
  (:data:`ROW_HEADS`, with the config keys of their losses): each loss is wrapped in
  :class:`PerSampleLoss`::

    head=dict(type='SimCCHead', loss=dict(type='KLDiscretLoss', use_target_weight=True))
    # becomes
    head=dict(type='SimCCHead', loss=dict(type='PerSampleLoss', batch_size=<b>,
                                          loss=dict(type='KLDiscretLoss', use_target_weight=True)))

  A loss key the config leaves out gets the head's default loss (read from its signature)
  wrapped; lists (``CPMHead``, ``MSPNHead``: one loss per stage) and ``CombinedLoss`` members
  are wrapped element by element; ``VisPredictHead``'s inner ``pose_cfg`` head is converted too.
- one-stage heads that pool the rows of all images (:data:`PER_IMAGE_HEADS`): the head type
  becomes its per-image subclass (``ausam_mm.pose.per_image_heads``), options unchanged.
- ``DWPoseDistiller``, whose student comes from a config file: the model type becomes
  ``PerSampleDWPoseDistiller`` (``ausam_mm.pose.distiller``).

Losses already wrapped are left as they are, so converting twice is converting once. Anything
it cannot vouch for - a head in :data:`UNSPLIT_HEADS` or unknown, a loss without a known batch
reduction - raises naming that head's loss keys and the fix, instead of training AUSAM on wrong
scores.
"""
import copy
import inspect
from typing import Any, Dict, List, Optional, Tuple

from mmpose.registry import MODELS as POSE_MODELS

from .per_sample_loss import BATCH_REDUCTIONS, is_known

#: Heads whose ``loss()`` passes batch-first tensors, one row per sample, to each of the loss
#: modules built from these config keys (each checked in tests/test_pose/test_pose_losses.py and
#: tests/test_pose/test_pose_families.py on MMPose's codecs).
ROW_HEADS: Dict[str, Tuple[str, ...]] = {
    # top-down: one row per instance
    'HeatmapHead': ('loss', ), 'ViPNASHead': ('loss', ), 'CPMHead': ('loss', ),
    'MSPNHead': ('loss', ), 'SimCCHead': ('loss', ), 'RTMCCHead': ('loss', ),
    'RTMWHead': ('loss', ), 'RegressionHead': ('loss', ), 'RLEHead': ('loss', ),
    'IntegralRegressionHead': ('loss', ), 'DSNTHead': ('loss', ),
    'VisPredictHead': ('loss', ),  # and its pose_cfg head
    'InternetHead': ('loss', 'loss_root_depth', 'loss_hand_type'),
    # bottom-up: one row per image (heatmaps and displacement maps of all its people)
    'DEKRHead': ('heatmap_loss', 'displacement_loss'),
    # 3D lifting: one row per sequence
    'TemporalRegressionHead': ('loss', ), 'MotionRegressionHead': ('loss', ),
}
#: Loss options a head reads from its loss *config*: repeated on the wrapper's config.
READ_BY_HEAD: Dict[str, Tuple[str, ...]] = {'VisPredictHead': ('use_sigmoid', )}

#: One-stage heads whose losses pool prior rows of all images -> their per-image subclass.
PER_IMAGE_HEADS: Dict[str, str] = {'YOLOXPoseHead': 'PerImageYOLOXPoseHead',
                                   'RTMOHead': 'PerImageRTMOHead'}

#: Heads whose losses cannot be split per sample in ausam_mm, and why (see docs/pose.md).
UNSPLIT_HEADS: Dict[str, str] = {
    'CIDHead': ('its contrastive loss (InfoNCELoss) compares the instances of all images of '
                'the batch with each other, and its heatmap losses take instance rows'),
    'AssociativeEmbeddingHead': ('its tag loss takes a list of per-image keypoint indices and '
                                 'its keypoint loss weights of all instances, not per-image '
                                 'rows'),
}

_FIX = ("Fix: if the loss is the mean (or sum) over the batch of independent per-sample terms "
        "and the head passes it one row per sample, write in the config\n"
        "    {path} = dict(type='PerSampleLoss', loss=<the loss>, batch_reduction='mean')  "
        "# or 'sum'\n(the adapter leaves PerSampleLoss alone); otherwise train with --sam.")


def per_sample_pose_losses(model_cfg: Any, path: str = 'model',
                           batch_size: Optional[int] = None) -> List[str]:
    """Make every loss of an MMPose model config one value per sample (see the module doc).

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
    if estimator.__name__ == 'DWPoseDistiller':
        model_cfg['type'] = 'PerSampleDWPoseDistiller'
        model_cfg['batch_size'] = batch_size
        return [f'{path}.type: DWPoseDistiller -> PerSampleDWPoseDistiller (student head and '
                f'distillation losses per sample, batch_size={batch_size})']
    if estimator.__name__ == 'PerSampleDWPoseDistiller':
        return []
    from mmpose.models.pose_estimators.base import BasePoseEstimator  # loaded by now
    head = model_cfg.get('head')
    if not issubclass(estimator, BasePoseEstimator) or not isinstance(head, dict):
        raise ValueError(
            f"--ausam: {path}.type={model_cfg['type']!r} is an MMPose model without a head "
            'whose losses ausam_mm knows how to split per sample; train with --sam.')
    return _convert_head(head, f'{path}.head', batch_size)


def _convert_head(head: dict, path: str, batch_size: Optional[int]) -> List[str]:
    head_type = _name(head.get('type'))
    if head_type in PER_IMAGE_HEADS.values():
        return []
    if head_type in PER_IMAGE_HEADS:
        head['type'] = PER_IMAGE_HEADS[head_type]
        return [f'{path}.type: {head_type} -> {head["type"]} (every loss key per image)']
    keys = loss_keys(head)
    if head_type not in ROW_HEADS:
        if keys and all(_all_wrapped(head[k]) for k in keys if k in head) and all(
                k in head for k in keys):
            return []  # wrapped by the user (any head, every loss key): left as it is
        why = UNSPLIT_HEADS.get(head_type, 'it is not among the heads verified to pass one '
                                           f'row per sample to its losses {tuple(ROW_HEADS)}')
        listed = ', '.join(f'{path}.{k}' for k in keys) or f'{path} (no loss key found)'
        raise ValueError(
            f'--ausam: {path}.type={head_type!r} cannot be split per sample: {why}. Its losses: '
            f'{listed}. ' + _FIX.format(path=f'{path}.{keys[0] if keys else "loss"}'))
    changes = []
    for key in ROW_HEADS[head_type]:
        loss = head.get(key, _default(head.get('type'), key))
        if loss is None or _all_wrapped(loss):
            continue
        head[key] = _wrap(loss, f'{path}.{key}', batch_size)
        for option in READ_BY_HEAD.get(head_type, ()):
            if isinstance(loss, dict) and option in loss:
                head[key][option] = loss[option]
        changes.append(f'{path}.{key} = PerSampleLoss({_describe(loss)}, '
                       f'batch_size={batch_size})')
    if head_type == 'VisPredictHead' and isinstance(head.get('pose_cfg'), dict):
        changes += _convert_head(head['pose_cfg'], f'{path}.pose_cfg', batch_size)
    return changes


def loss_keys(head: dict) -> List[str]:
    """The loss options of a head config: its keys and signature parameters named ``*loss*``."""
    cls = _class(head.get('type'))
    params = inspect.signature(cls.__init__).parameters if cls else {}
    names = [k for k in params if 'loss' in k] + [k for k in head if 'loss' in k]
    return list(dict.fromkeys(names))


def _pose_class(type_name: Any) -> Optional[type]:
    """The MMPose model class of ``type_name``; None when it is not an MMPose model."""
    cls = _class(type_name)
    if not isinstance(cls, type):
        return None
    if cls.__name__ == 'PerSampleDWPoseDistiller':
        return cls
    return cls if cls.__module__.startswith('mmpose.') else None


def _class(type_name: Any) -> Any:
    return POSE_MODELS.get(type_name) if isinstance(type_name, str) else type_name


def _name(type_name: Any) -> str:
    if isinstance(type_name, str):
        return type_name.split('.')[-1]
    return getattr(type_name, '__name__', repr(type_name))


def _default(head_type: Any, key: str) -> Any:
    head_cls = _class(head_type)
    param = inspect.signature(head_cls.__init__).parameters.get(key) if head_cls else None
    return copy.deepcopy(param.default) if param is not None else None


def _all_wrapped(loss: Any) -> bool:
    if isinstance(loss, (list, tuple)):
        return bool(loss) and all(_all_wrapped(x) for x in loss)
    if isinstance(loss, dict) and _name(loss.get('type')) == 'CombinedLoss':
        return all(_all_wrapped(x) for x in loss.get('losses', {}).values())
    return isinstance(loss, dict) and _name(loss.get('type')) == 'PerSampleLoss'


def _wrap(loss: Any, path: str, batch_size: Optional[int]) -> Any:
    if isinstance(loss, (list, tuple)):
        return [_wrap(x, f'{path}[{i}]', batch_size) for i, x in enumerate(loss)]
    if _all_wrapped(loss):
        return loss
    if isinstance(loss, dict) and _name(loss.get('type')) == 'CombinedLoss':
        return dict(loss, losses={k: _wrap(v, f'{path}.losses.{k}', batch_size)
                                  for k, v in loss.get('losses', {}).items()})
    _check_known(loss, path)
    return dict(type='PerSampleLoss', loss=loss, batch_size=batch_size)


def _check_known(loss: Any, path: str) -> None:
    kind = loss.get('type') if isinstance(loss, dict) else None
    if not is_known(_class(kind)):
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
