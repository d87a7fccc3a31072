"""``PerSampleLoss``: any MMPose loss module, one value per sample, same mean.

AUSAM needs ``l_i`` for every sample of the batch; MMPose's losses return one scalar. This
wrapper calls the unchanged MMPose loss on each sample alone (a batch of one) - vectorised
with ``torch.func.vmap``, so it costs one batched call, not B calls - and scales the results
by how that loss reduces over the batch, so that

    PerSampleLoss(loss)(*args).mean() == loss(*args)    (up to float summation order)

- batch **mean** (``KeypointMSELoss``, ``KeypointOHKMMSELoss``, ``SmoothL1Loss``, ``L1Loss``
  with ``reduction='mean'``, ``RLELoss`` and ``JSDiscretLoss`` with ``size_average=True``):
  ``v_i = loss(sample i)``. Exact because each sample contributes the same number of elements
  to MMPose's mean (zero target weights are averaged in, not dropped) and OHKM's top-k is
  taken per sample.
- batch **sum** (``KLDiscretLoss``: sum over the B*K rows / K; ``size_average=False``;
  ``reduction='sum'``): ``v_i = B * loss(sample i)``.
- ``reduction='none'`` (elementwise output, which MMEngine averages): ``v_i`` = the mean of
  sample i's elements.
- ``MultipleLossWrapper``: a list of vectors, each by its own loss's rule.

- batch **count** (``SoftWeightSmoothL1Loss`` with ``supervise_empty=False``: the sum over
  the batch divided by the batch's number ``N`` of positive weights): ``v_i = B * S_i / N``,
  sample i's share ``S_i / N`` of the loss times B, where ``S_i = loss(sample i) * n_i`` and
  ``n_i`` is sample i's count (:data:`BATCH_COUNTS`).

Other losses: give ``batch_reduction`` ('mean' or 'sum') when the loss is the mean or sum of
independent per-sample terms.
"""
import logging
import warnings
from typing import Any, Callable, Dict, List, Optional, Union

import torch
from mmengine.logging import print_log
from mmengine.registry import MODELS
from mmpose.registry import MODELS as POSE_MODELS
from torch import Tensor, nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from ..compat.torch_version import register_load_state_dict_pre_hook, register_state_dict_post_hook

Reduction = Union[str, List['Reduction']]
_MISSING = object()


def _l1_reduction(loss: nn.Module) -> str:
    return {'none': 'mean'}.get(loss.criterion.keywords['reduction'],
                                loss.criterion.keywords['reduction'])


#: How each supported MMPose loss reduces over the batch: 'mean' or 'sum' (or, for wrappers,
#: a list). Keyed by the name of MMPose's class (``mmpose.models.losses``; a subclass or a
#: namesake elsewhere may reduce differently and is not matched). Names, not classes, so that
#: ``import ausam_mm`` does not import ``mmpose.models``.
def _own_reduction(loss: nn.Module) -> str:
    return {'none': 'mean'}.get(loss.reduction, loss.reduction)


def _soft_weight_reduction(loss: nn.Module) -> str:
    return 'count' if loss.use_target_weight and not loss.supervise_empty else 'mean'


def _positive_weights(loss: nn.Module, output: Tensor, target: Tensor,
                      target_weight: Optional[Tensor] = None) -> Tensor:
    return (target_weight > 0).flatten(1).sum(1)


#: For batch-count losses: each sample's share ``n_i`` of the count the loss divides by.
BATCH_COUNTS: Dict[str, Callable[..., Tensor]] = {
    'SoftWeightSmoothL1Loss': _positive_weights,
}

BATCH_REDUCTIONS: Dict[str, Callable[[nn.Module], Reduction]] = {
    'KeypointMSELoss': lambda loss: 'mean',
    'KeypointOHKMMSELoss': lambda loss: 'mean',
    'CombinedTargetMSELoss': lambda loss: 'mean',
    'AdaptiveWingLoss': lambda loss: 'mean',
    'WingLoss': lambda loss: 'mean',
    'SoftWingLoss': lambda loss: 'mean',
    'MPJPELoss': lambda loss: 'mean',
    'MPJPEVelocityJointLoss': lambda loss: 'mean',
    'MSELoss': lambda loss: 'mean',
    'BCELoss': _own_reduction,
    'SoftWeightSmoothL1Loss': _soft_weight_reduction,
    'FeaLoss': lambda loss: 'mean',
    'KDLoss': lambda loss: 'mean',
    'SmoothL1Loss': lambda loss: 'mean',
    'L1Loss': _l1_reduction,
    'KLDiscretLoss': lambda loss: 'sum',
    'RLELoss': lambda loss: 'mean' if loss.size_average else 'sum',
    'JSDiscretLoss': lambda loss: 'mean' if loss.size_average else 'sum',
    'MultipleLossWrapper': lambda loss: [reduction_of(m) for m in loss.loss_modules],
}


def is_known(cls: type) -> bool:
    """Whether ``cls`` is one of MMPose's losses in :data:`BATCH_REDUCTIONS`."""
    return (isinstance(cls, type) and cls.__name__ in BATCH_REDUCTIONS
            and cls.__module__.startswith('mmpose.models.losses'))


def reduction_of(loss: nn.Module) -> Reduction:
    """'mean', 'sum' or 'count': how ``loss`` combines its per-sample values over the batch."""
    if not is_known(type(loss)):
        known = sorted(BATCH_REDUCTIONS)
        raise ValueError(
            f'PerSampleLoss does not know how {type(loss).__name__} reduces over the batch '
            f'(known: {known}). If it is the mean (or sum) of independent per-sample terms, '
            "say so: dict(type='PerSampleLoss', loss=..., batch_reduction='mean' or 'sum'); "
            'otherwise AUSAM cannot use it (train with --sam instead).')
    return BATCH_REDUCTIONS[type(loss).__name__](loss)


@MODELS.register_module()
class PerSampleLoss(nn.Module):
    """An MMPose loss that returns shape (B,), whose mean is the wrapped loss's value.

    Args:
        loss: the MMPose loss (config, built with MMPose's registry, or module).
        batch_reduction: how ``loss`` reduces over the batch, 'mean' or 'sum'; only for losses
            not in :data:`BATCH_REDUCTIONS` (e.g. your own).
        batch_size: for batch-sum losses only: the batch size b the loss's sum refers to (the
            train dataloader's ``batch_size``; ``--ausam`` sets it). Each value is then
            ``b * l_i`` instead of ``B * l_i``, so a batch of any size B - AUSAM's subset of
            ``ratio * b`` samples, an epoch's last batch - is an unbiased estimate of the
            b-sample sum (as a mean loss on the subset estimates the b-sample mean), and the
            DLPs keep one scale across warm-up and subset epochs. With B == b it changes
            nothing. None: ``B * l_i``, exactly MMPose's sum on every batch.
        vectorize: run the per-sample calls with ``torch.func.vmap`` (one batched call). When
            vmap cannot run the loss, the wrapper falls back to a Python loop once and says so
            in the log; ``False`` always loops.
        **loss_options: options of the wrapped loss repeated on the wrapper, for heads that
            read their loss *config* (``VisPredictHead`` adds its sigmoid when
            ``loss.use_sigmoid``); each must equal the wrapped loss's attribute.

    The wrapped module keeps its parameters (``RLELoss``'s flow model) under the same
    state-dict names as without the wrapper, so checkpoints load either way, and its
    attributes: reading or setting ``wrapper.beta`` or ``wrapper.loss_weight`` reads or sets the
    wrapped loss's (heads read ``use_target_weight``, RTMO's mode-switch hook sets
    ``loss_weight``).

    Examples:
        >>> model = dict(head=dict(loss=dict(
        >>>     type='PerSampleLoss',
        >>>     loss=dict(type='KLDiscretLoss', use_target_weight=True))))

    Note:
        Contract with the head: every tensor the head passes to the loss is batch-first with
        one row per sample (size B, or 1 for broadcast), as MMPose's top-down heads do.
    """

    def __init__(self, loss: Union[dict, nn.Module], batch_reduction: Optional[str] = None,
                 vectorize: bool = True, batch_size: Optional[int] = None,
                 **loss_options: Any) -> None:
        super().__init__()
        inner = POSE_MODELS.build(loss) if isinstance(loss, dict) else loss
        for key, value in loss_options.items():
            if getattr(inner, key, _MISSING) != value:
                raise ValueError(
                    f'PerSampleLoss: {key}={value!r} must repeat an option of the wrapped '
                    f'{type(inner).__name__} (which has {key}='
                    f'{getattr(inner, key, "no such option")!r}).')
        if batch_reduction is None:
            reduction = reduction_of(inner)
        elif batch_reduction in ('mean', 'sum'):
            reduction = batch_reduction
        else:
            raise ValueError(f"batch_reduction must be 'mean' or 'sum', got {batch_reduction!r}")
        if isinstance(reduction, list) and 'count' in reduction:
            raise ValueError(f'PerSampleLoss: a batch-count loss inside {type(inner).__name__} '
                             'cannot be split; wrap each member loss instead.')
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f'`batch_size` must be a positive int or None, got {batch_size!r}')
        # the wrapper's own attributes first: later assignments of other names that the wrapped
        # loss has go to the wrapped loss (__setattr__)
        self.batch_reduction = reduction
        self.vectorize = vectorize
        self.batch_size = batch_size
        self.loss = inner
        register_state_dict_post_hook(self, _drop_inner_prefix)
        register_load_state_dict_pre_hook(self, _add_inner_prefix)

    def forward(self, *args: Any, **kwargs: Any) -> Union[Tensor, List[Tensor]]:
        batch = _batch_size(args)
        # one batch dim (0 or None) per leaf; flat lists and tree_flatten rather than a
        # multi-tree tree_map, which torch 2.1's pytree lacks
        leaves, spec = tree_flatten((args, kwargs))
        dims = [_batch_dim(x, batch) for x in leaves]

        def one_sample(a, kw):  # the unchanged loss on a batch of one
            return self.loss(*a, **kw)

        if self.vectorize:
            try:
                with warnings.catch_warnings():  # vmap loops ops it cannot batch (kl_div)
                    warnings.filterwarnings('ignore', message='There is a performance drop')
                    per_sample = torch.func.vmap(
                        lambda a, kw: one_sample(*_unsqueeze((a, kw), dims)),
                        in_dims=tree_unflatten(dims, spec))(args, kwargs)
            except Exception as error:  # an op vmap cannot batch: loop instead, from now on
                per_sample = self._loop(one_sample, args, kwargs, dims, batch)
                self.vectorize = False
                print_log(f'PerSampleLoss: vmap cannot run {type(self.loss).__name__} '
                          f'({type(error).__name__}: {error}); looping over the batch.',
                          logger='current', level=logging.WARNING)
        else:
            per_sample = self._loop(one_sample, args, kwargs, dims, batch)
        if self.batch_reduction == 'count':  # v_i = B * l_i * n_i / N
            counts = BATCH_COUNTS[type(self.loss).__name__](self.loss, *args, **kwargs)
            values = _reduce(per_sample, 'mean', batch)
            return values * counts.to(values) * (batch / counts.sum().clamp(min=1).to(values))
        return _reduce(per_sample, self.batch_reduction, self.batch_size or batch)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get('_modules', {}).get('loss')
            if inner is None or name.startswith('__'):
                raise
            return getattr(inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        inner = self.__dict__.get('_modules', {}).get('loss')
        if (inner is not None and name not in self.__dict__ and hasattr(inner, name)
                and not isinstance(value, (nn.Module, Tensor))):
            setattr(inner, name, value)
        else:
            super().__setattr__(name, value)

    @staticmethod
    def _loop(one_sample, args, kwargs, dims, batch):
        outs = [one_sample(*_slice((args, kwargs), dims, i)) for i in range(batch)]
        if isinstance(outs[0], (list, tuple)):
            return [torch.stack([o[j] for o in outs]) for j in range(len(outs[0]))]
        return torch.stack(outs)


def _batch_size(args: tuple) -> int:
    leaves = [x for x in tree_flatten(args[:1])[0] if isinstance(x, Tensor)]
    if not leaves or leaves[0].ndim == 0:
        raise ValueError('PerSampleLoss: the first argument of the loss (the prediction) must '
                         'hold batch-first tensors.')
    return leaves[0].shape[0]


def _batch_dim(x: Any, batch: int) -> Optional[int]:
    if not isinstance(x, Tensor) or x.ndim == 0:
        return None
    if x.shape[0] == batch:
        return 0
    if x.shape[0] == 1:  # broadcast over the batch (e.g. a mask)
        return None
    raise ValueError(f'PerSampleLoss: a loss input of shape {tuple(x.shape)} is not batch-first '
                     f'(batch {batch}); the head must pass one row per sample.')


def _map_batched(fn: Callable[[Tensor], Tensor], tree, flat_dims: List[Optional[int]]):
    """``fn`` on every leaf of ``tree`` whose batch dim (``flat_dims``, one per leaf) is 0."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) if d == 0 else x for x, d in zip(leaves, flat_dims)], spec)


def _unsqueeze(tree, flat_dims):
    return _map_batched(lambda x: x.unsqueeze(0), tree, flat_dims)


def _slice(tree, flat_dims, i: int):
    return _map_batched(lambda x: x[i:i + 1], tree, flat_dims)


def _reduce(per_sample: Union[Tensor, List[Tensor]], reduction: Reduction,
            batch: int) -> Union[Tensor, List[Tensor]]:
    if isinstance(per_sample, (list, tuple)):
        return [_reduce(p, r, batch) for p, r in zip(per_sample, reduction)]
    values = per_sample.flatten(1).mean(1) if per_sample.ndim > 1 else per_sample
    return values * batch if reduction == 'sum' else values


def _drop_inner_prefix(module, state_dict, prefix, local_metadata) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + 'loss.')]:
        state_dict[prefix + key[len(prefix) + len('loss.'):]] = state_dict.pop(key)


def _add_inner_prefix(module, state_dict, prefix, *args) -> None:
    for key in [k for k in state_dict
                if k.startswith(prefix) and not k.startswith(prefix + 'loss.')]:
        state_dict[prefix + 'loss.' + key[len(prefix):]] = state_dict.pop(key)
