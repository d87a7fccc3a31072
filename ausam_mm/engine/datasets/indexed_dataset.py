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
import pickle
from typing import Any, Iterable, List, Optional, Sequence, Union

import numpy as np
from mmengine.registry import DATASETS
from mmengine.structures import BaseDataElement

INDEX_KEY = 'dataset_index'
WEIGHT_KEY = 'ausam_weight'
#: the scheme of :meth:`IndexedDataset.fingerprint` (ausam_mm <= 0.2.0 wrote none:
#: :meth:`IndexedDataset.legacy_fingerprint`, which ``engine/upgrade.py`` compares)
FINGERPRINT_SCHEME = 'v2:'


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
        **dataset_keys: keys of the wrapped dataset's config written beside the wrapper: a
            config whose ``_base_`` defines the dataset merges the base's keys (``data_root``,
            ``ann_file``, ...) into ``dict(type='IndexedDataset', ...)``, and an override
            ``train_dataloader.dataset.data_root=...`` lands there too. Each goes into the
            wrapped dataset's config; a key set there to another value is an error that shows
            the line to write.
    """

    def __init__(self, dataset: Union[dict, Any], pipeline: Optional[Sequence[dict]] = None,
                 **dataset_keys: Any) -> None:
        if dataset_keys:
            dataset = _with_keys(dataset, dataset_keys)
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset if pipeline is None
                                     else dict(dataset, pipeline=pipeline))
        elif pipeline is not None:
            from mmengine.dataset import Compose
            dataset.pipeline = Compose(pipeline)
        self.dataset = dataset
        self._fingerprint: Optional[str] = None  # computed once, on first use
        self._fingerprinted = False

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
        """The identity of the wrapped dataset's samples, kept with the AUSAM scores so that a
        resume on another training set (other samples, another order, a changed annotation) is
        refused: :func:`dataset_fingerprint`, computed once per process. None for datasets
        without ``get_data_info``."""
        if not self._fingerprinted:
            self._fingerprint, self._fingerprinted = dataset_fingerprint(self.dataset), True
        return self._fingerprint

    def legacy_fingerprint(self) -> Optional[str]:
        """The fingerprint of ausam_mm <= 0.2.0: SHA-256 of every data info as JSON, paths
        reduced to file names. About 3x MMPose's own build of a COCO-size dataset: computed only
        to resume a checkpoint of those versions (``engine/upgrade.py``)."""
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


def _with_keys(dataset: Union[dict, Any], keys: dict) -> dict:
    """The wrapped dataset's config with ``keys`` (written beside the wrapper) added."""
    if not isinstance(dataset, dict):
        raise ValueError(f'IndexedDataset: {sorted(keys)} are dataset options, and the wrapped '
                         f'dataset is already built ({type(dataset).__name__}): give them to it')
    merged = dict(dataset)
    for key, value in keys.items():
        if key in merged and merged[key] != value:
            raise ValueError(
                f'IndexedDataset: `{key}` is {value!r} beside the wrapper and {merged[key]!r} in '
                'the wrapped dataset (a `_base_` dataset merged into the wrapper, or an override '
                f'of train_dataloader.dataset.{key}). Set it in one place: the wrapped '
                f'dataset\'s, `train_dataloader.dataset.dataset.{key}={value!r}` (in a config: '
                f'train_dataloader = dict(dataset=dict(dataset=dict({key}={value!r})))), or '
                f'write the wrapper with _delete_=True.')
        merged[key] = value
    return merged


def dataset_fingerprint(dataset: Any) -> Optional[str]:
    """``'v2:'`` and the SHA-256 of an MMEngine dataset's data infos as MMEngine serializes them
    (``pickle`` protocol 4 per sample: file names, boxes, keypoints, labels, in order), with the
    dataset's path prefixes (``data_prefix``, joined with ``data_root``) cut out of every path
    and the pickles' frame lengths cleared, so that a dataset moved to another folder keeps its
    fingerprint. It hashes the bytes the dataset already holds (``serialize_data=True``,
    MMEngine's default): 2.6 % of the dataset's own build at COCO's size (docs/benchmarks.md,
    section 8). A dataset of datasets
    (``ConcatDataset``, MMPose's ``CombinedDataset``) combines those of its parts. None for a
    dataset without ``get_data_info``."""
    parts = getattr(dataset, 'datasets', None)
    if isinstance(parts, (list, tuple)) and parts:
        prints = [dataset_fingerprint(part) for part in parts]
        if None in prints:
            return None
        return FINGERPRINT_SCHEME + hashlib.sha256('\n'.join(prints).encode()).hexdigest()
    if not callable(getattr(dataset, 'get_data_info', None)):
        return None
    if hasattr(dataset, 'full_init'):
        dataset.full_init()  # lazy_init=True datasets: build the data list first
    data_bytes = getattr(dataset, 'data_bytes', None)
    if getattr(dataset, 'serialize_data', False) and data_bytes is not None:
        serialized, ends = bytearray(memoryview(data_bytes).cast('B')), dataset.data_address
    else:
        infos = (dataset.data_list if isinstance(getattr(dataset, 'data_list', None), list)
                 else [_portable(dataset.get_data_info(i)) for i in range(len(dataset))])
        items = [pickle.dumps(info, protocol=4) for info in infos]  # as MMEngine serializes
        serialized, ends = bytearray(b''.join(items)), np.cumsum([len(i) for i in items])
    _clear_frame_lengths(serialized, ends)
    digest = hashlib.sha256(f'{len(dataset)}\n'.encode())
    for piece in _without_prefixes(serialized, _path_prefixes(dataset)):
        digest.update(piece)
    return FINGERPRINT_SCHEME + digest.hexdigest()


def _clear_frame_lengths(serialized: bytearray, ends: np.ndarray) -> None:
    """Zero the length of the first frame of each pickle (protocol 4 opens with ``\\x80\\x04``
    and a ``FRAME`` opcode, ``\\x95``, with an 8-byte length, which counts the paths'
    prefixes too); ``ends`` are the pickles' end offsets (MMEngine's ``data_address``)."""
    if len(ends) == 0:
        return
    data = np.frombuffer(serialized, dtype=np.uint8)  # a view: writes go to ``serialized``
    starts = np.concatenate([[0], np.asarray(ends[:-1], dtype=np.int64)])
    starts = starts[(data[starts] == 0x80) & (data[starts + 2] == 0x95)]
    data[starts[:, None] + np.arange(3, 11)] = 0


def _path_prefixes(dataset: Any) -> Iterable[str]:
    prefixes = getattr(dataset, 'data_prefix', None) or {}
    return sorted({p for p in prefixes.values() if isinstance(p, str) and p}, key=len,
                  reverse=True)


def _without_prefixes(data: bytearray, prefixes: Iterable[str]) -> List[bytearray]:
    """``data`` (pickles of protocol 4), in pieces, with every string that starts with one of
    ``prefixes`` cut to what follows the prefix, its length field dropped with it (the length
    encodes the prefix's): ``SHORT_BINUNICODE`` (0x8c, 1 length byte) and ``BINUNICODE``
    (``X``, 4)."""
    pieces = [data]
    for prefix in prefixes:
        cut = []
        for piece in pieces:
            parts = piece.split(prefix.encode())
            for i, head in enumerate(parts[:-1]):
                if len(head) >= 2 and head[-2] == 0x8c:
                    parts[i] = head[:-1]
                elif len(head) >= 5 and head[-5] == 0x58:  # b'X'
                    parts[i] = head[:-4]
            cut += parts
        pieces = cut
    return pieces
