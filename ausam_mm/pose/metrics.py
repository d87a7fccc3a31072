"""``TorsoPCKAccuracy``: PCK normalised by the torso, as LSP papers report it.

A predicted joint is correct when it lies within ``thr`` times the torso of its ground truth;
the torso is the distance from the left shoulder to the right hip of the ground truth (LSP's
convention; MMPose's ``PCKAccuracy`` with ``norm_item='torso'`` measures other joints). Only
joints flagged visible count, and images whose two torso joints are not both visible are left
out (their torso is unknown); the score is the share of correct joints over all counted joints,
and ``n_images`` says how many images were counted.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS


def torso_pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, torso: Tuple[int, int],
              thr: float) -> Tuple[float, int]:
    """(PCK, images counted) of predictions ``pred`` against ``gt`` (both (N, K, 2)) with the
    visibility mask ``visible`` (N, K): the share of visible joints within ``thr`` x the
    ground truth's distance between joints ``torso[0]`` and ``torso[1]``, over the images where
    both torso joints are visible and apart. NaN when no image counts."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    visible = np.asarray(visible) > 0
    a, b = torso
    length = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
    counted = visible[:, a] & visible[:, b] & (length > 0)
    mask = visible & counted[:, None]
    if not mask.any():
        return float('nan'), 0
    dist = np.linalg.norm(pred - gt, axis=-1) / np.where(counted, length, 1.0)[:, None]
    return float((dist[mask] <= thr).mean()), int(counted.sum())


@METRICS.register_module()
class TorsoPCKAccuracy(BaseMetric):
    """PCK at each of ``thr``, normalised by the torso (module docstring): keys
    ``pck/PCK@0.2``, ``pck/PCK@0.1`` ..., and ``pck/n_images`` (the prefix is MMPose's
    ``PCKAccuracy``'s).

    Args:
        thr: the thresholds, as fractions of the torso. Default: (0.2, 0.1).
        torso: the names of the two joints whose distance is the torso, looked up in the
            dataset's metainfo. Default: ``('left_shoulder', 'right_hip')``.

    Examples:
        >>> val_evaluator = dict(type='TorsoPCKAccuracy', thr=(0.2, 0.1))
    """
    default_prefix: Optional[str] = 'pck'

    def __init__(self, thr: Union[float, Sequence[float]] = (0.2, 0.1),
                 torso: Sequence[str] = ('left_shoulder', 'right_hip'),
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thr = (thr, ) if isinstance(thr, (int, float)) else tuple(thr)
        if not self.thr or not all(0 < t for t in self.thr):
            raise ValueError(f'TorsoPCKAccuracy: `thr` must be positive fractions of the torso, '
                             f'e.g. (0.2, 0.1), got {thr!r}')
        if len(torso) != 2:
            raise ValueError(f'TorsoPCKAccuracy: `torso` must name two joints, got {torso!r}')
        self.torso = tuple(torso)

    def process(self, data_batch: Sequence[dict], data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            gt = sample['gt_instances']
            visible = np.asarray(gt['keypoints_visible'])
            if visible.ndim == 3:
                visible = visible[..., 0]
            self.results.append(dict(pred=np.asarray(sample['pred_instances']['keypoints'])[0],
                                     gt=np.asarray(gt['keypoints'])[0], visible=visible[0]))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        torso = self._torso_ids()
        pred, gt, visible = (np.stack([r[k] for r in results]) for k in ('pred', 'gt', 'visible'))
        metrics, counted = {}, 0
        for t in self.thr:
            metrics[f'PCK@{t:g}'], counted = torso_pck(pred, gt, visible, torso, t)
        metrics['n_images'] = counted
        return metrics

    def _torso_ids(self) -> Tuple[int, int]:
        names = (self.dataset_meta or {}).get('keypoint_name2id', {})
        missing = [n for n in self.torso if n not in names]
        if missing:
            raise ValueError(f'TorsoPCKAccuracy: the dataset has no joint named {missing} (its '
                             f'joints: {sorted(names)}); set `torso` to two of them')
        return names[self.torso[0]], names[self.torso[1]]
