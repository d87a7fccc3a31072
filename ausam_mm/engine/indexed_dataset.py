"""``IndexedDataset``: every sample carries the index it was loaded by, through any wrapper.

AUSAM remembers a score per training sample, so the optimizer wrapper must know which samples
a batch holds. The index travels with the data (``data_samples.metainfo['dataset_index']``),
so it survives worker processes, prefetching, DDP and MMEngine's batch skipping on resume, and
it is the global index when the wrapped dataset is a ``ConcatDataset`` or MMPose's
``CombinedDataset`` (wrap the outermost dataset). The importance weight of a sample drawn by
``AUSAMBatchSampler(importance_weights=True)`` travels the same way: the sampler yields a
:class:`WeightedIndex`, which the wrapper writes to ``metainfo['ausam_weight']``.

Examples:
    >>> train_dataloader = dict(
    >>>     dataset=dict(type='IndexedDataset', dataset=dict(type='CocoDataset', ...)))
"""
import hashlib
import json
import os
from typing import Any, Optional, Sequence, Union

from mmengine.registry import DATASETS
from mmengine.structures import BaseDataElement

INDEX_KEY = 'dataset_index'
WEIGHT_KEY = 'ausam_weight'


class WeightedIndex(int):
    """A dataset index that carries the importance weight of its sample's loss.

    ``AUSAMBatchSampler(importance_weights=True)`` yields these; any dataset takes one as the
    int it is, and :class:`IndexedDataset` puts ``weight`` into the sample's metainfo. It
    pickles with its weight (DataLoader workers receive the indices pickled).
    """

    weight: float

    def __new__(cls, index: int, weight: float) -> 'WeightedIndex':
        obj = super().__new__(cls, index)
        obj.weight = float(weight)
        return obj

    def __reduce__(self):
        return WeightedIndex, (int(self), self.weight)

    def __repr__(self) -> str:
        return f'WeightedIndex({int(self)}, weight={self.weight!r})'


@DATASETS.register_module()
class IndexedDataset:
    """Wraps a dataset; ``data['data_samples']`` gets ``dataset_index`` in its metainfo (and
    ``ausam_weight`` when the index is a :class:`WeightedIndex`).

    Every other attribute (``metainfo``, ``pipeline`` - which MMPose's ``PipelineSwitchHook``
    assigns -, ``full_init`` ...) is the wrapped dataset's.

    Args:
        dataset: the dataset, or its config.
        pipeline: if given, the wrapped dataset's pipeline (replacing the one it has). MMPose's
            ``YOLOXPoseModeSwitchHook`` (RTMO, YOLOX-Pose) rebuilds the train dataloader from
            the config with ``train_dataloader.dataset.pipeline = <stage-2 pipeline>``, which
            with this wrapper lands here.
    """

    def __init__(self, dataset: Union[dict, Any],
                 pipeline: Optional[Sequence[dict]] = None) -> None:
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset if pipeline is None
                                     else dict(dataset, pipeline=pipeline))
        elif pipeline is not None:
            from mmengine.dataset import Compose
            dataset.pipeline = Compose(pipeline)
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> Any:
        data = self.dataset[int(idx)]
        samples = data.get('data_samples') if isinstance(data, dict) else None
        if not isinstance(samples, BaseDataElement):
            raise TypeError(
                'IndexedDataset needs samples packed as dict(inputs=..., data_samples=<a '
                f'BaseDataElement>) (MMPose, mmpretrain and mmdet packers do this); got '
                f'{type(data).__name__} with data_samples={type(samples).__name__}.')
        samples.set_metainfo({INDEX_KEY: int(idx)})
        if isinstance(idx, WeightedIndex):
            samples.set_metainfo({WEIGHT_KEY: idx.weight})
        return data

    def fingerprint(self) -> Optional[str]:
        """SHA-256 of the wrapped dataset's annotations (MMEngine ``BaseDataset``'s data infos:
        file names, labels, boxes...; paths reduced to file names, so a moved dataset keeps
        it), kept with the AUSAM scores so that a resume on another training set is refused.
        None for datasets without ``get_data_info``."""
        if not callable(getattr(self.dataset, 'get_data_info', None)):
            return None
        infos = [_portable(self.dataset.get_data_info(i)) for i in range(len(self.dataset))]
        text = json.dumps(infos, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def pipeline(self):
        return self.dataset.pipeline

    @pipeline.setter
    def pipeline(self, value) -> None:
        self.dataset.pipeline = value

    def __getattr__(self, name: str) -> Any:
        if name == 'dataset' or name.startswith('__'):  # not yet set (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __repr__(self) -> str:
        return f'IndexedDataset({self.dataset!r})'


def _portable(value: Any) -> Any:
    """``value`` with every path reduced to its file name (the fingerprint survives a move)."""
    if isinstance(value, str) and os.sep in value:
        return os.path.basename(value)
    if isinstance(value, dict):
        return {str(k): _portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_portable(v) for v in value]
    return value
