"""The per-sample contract of AUSAM and ESAM: the model's loss-mode forward returns one loss value
per sample (shape ``(B,)``), and each data sample of an AUSAM batch carries its dataset index
(``IndexedDataset``) and, with importance weights, its weight. Read from the recorded forward
(:class:`~.recorded_forward.RecordedForward`); every mismatch raises with the config line that
fixes it.
"""
from typing import Any, Dict, List, Optional, Tuple

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

from ..datasets.indexed_dataset import INDEX_KEY, WEIGHT_KEY
from .recorded_forward import RecordedForward

PER_SAMPLE_HELP = (
    '{method} needs one loss value per sample: make the loss return shape (batch,) (the mean '
    "over all other dimensions), e.g. mmpretrain `loss=dict(type='CrossEntropyLoss', "
    "reduction='none')`, MMPose heads `loss=dict(type='PerSampleLoss', loss=<the head's "
    'loss>)`, or build the config with `python -m ausam_mm.cli.train CONFIG --{flag}`. '
    'MMEngine averages the vector, so gradients and logs do not change.')


def per_sample_loss(losses: Dict[str, Any], batch: int, method: str = 'AUSAM') -> Tensor:
    """Sum, per sample, of the loss terms MMEngine's ``parse_losses`` adds up (``'loss'`` keys).
    ``method`` names who needs them in the error."""
    total = None
    for key, value in losses.items():
        if 'loss' not in key:
            continue
        for term in (value if isinstance(value, (list, tuple)) else [value]):
            if not (isinstance(term, Tensor) and term.shape == (batch,)):
                shape = tuple(term.shape) if isinstance(term, Tensor) else type(term).__name__
                raise ValueError(f'loss {key!r} has shape {shape}, expected ({batch},). '
                                 + PER_SAMPLE_HELP.format(method=method, flag=method.lower()))
            total = term.float() if total is None else total + term.float()
    if total is None:
        raise ValueError(f'the model returned no loss term (keys: {list(losses)})')
    return total


def _data_samples(forward: RecordedForward) -> Optional[list]:
    args, kwargs = forward.calls[0]
    samples = kwargs.get('data_samples')
    if samples is None:
        samples = next((a for a in args if isinstance(a, (list, tuple)) and a
                        and isinstance(a[0], BaseDataElement)), None)
    return samples


def sample_indices(forward: RecordedForward) -> List[int]:
    """The ``dataset_index`` of each sample of the recorded forward, in batch order."""
    samples = _data_samples(forward)
    if not samples or not all(INDEX_KEY in s for s in samples):
        raise RuntimeError(
            "AUSAMOptimWrapper found no 'dataset_index' in the batch's data_samples: wrap the "
            "train dataset as dataset=dict(type='IndexedDataset', dataset=<your dataset>).")
    return [int(s.metainfo[INDEX_KEY]) for s in samples]


def sample_weights(forward: RecordedForward) -> Optional[Tensor]:
    """The ``ausam_weight`` of each sample of the recorded forward (``AUSAMBatchSampler(
    importance_weights=True)`` after its warm-up), or None when the batch carries none."""
    samples = _data_samples(forward)
    has = [WEIGHT_KEY in s for s in samples]
    if not any(has):
        return None
    if not all(has):
        raise RuntimeError(f'{sum(has)} of the {len(has)} samples of the batch carry an '
                           "importance weight ('ausam_weight'): a batch is one draw of "
                           'AUSAMBatchSampler, weighted all or none')
    return torch.tensor([float(s.metainfo[WEIGHT_KEY]) for s in samples])


def weighted_loss(losses: Dict[str, Any], weights: Tensor) -> Tensor:
    """``mean(weights * l)`` of the per-sample total loss ``l``: the importance-weighted
    estimate of the candidate batch's loss (core/importance.py); with all weights 1 it is
    the value of ``parse_losses``'s total."""
    per_sample = per_sample_loss(losses, len(weights))
    return (weights.to(per_sample.device, per_sample.dtype) * per_sample).mean()


def batch_size_of(forward: RecordedForward) -> int:
    """The number of samples of the recorded forward (its ``inputs``, MMEngine's convention)."""
    args, kwargs = forward.calls[0]
    inputs = kwargs['inputs'] if 'inputs' in kwargs else (args[0] if args else None)
    if isinstance(inputs, Tensor) and inputs.dim() > 0:
        return inputs.shape[0]
    if isinstance(inputs, (list, tuple)) and inputs:
        return len(inputs)
    raise RuntimeError('ESAM selects samples of the batch and found no batch in the model '
                       f"call (its 'inputs' is {type(inputs).__name__}); the model must be "
                       'called as model(inputs=<tensor or list, one entry per sample>, ...).')


def take_samples(forward: RecordedForward, keep: Tensor, batch: int) -> Tuple[tuple, dict]:
    """The recorded call's arguments restricted to the samples at positions ``keep``: every
    tensor whose first dimension and every list or tuple whose length is ``batch``."""
    positions = keep.tolist()

    def take(value: Any) -> Any:
        if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == batch:
            return value[keep.to(value.device)]
        if isinstance(value, list) and len(value) == batch:
            return [value[i] for i in positions]
        if isinstance(value, tuple) and len(value) == batch:
            return tuple(value[i] for i in positions)
        if isinstance(value, dict):
            return {k: take(v) for k, v in value.items()}
        return value

    args, kwargs = forward.calls[0]
    return tuple(take(a) for a in args), {k: take(v) for k, v in kwargs.items()}
