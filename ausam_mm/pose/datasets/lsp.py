"""``LSPDataset``: Leeds Sports Pose (Extended) for MMPose's top-down (and bottom-up) training.

The layout of the datasets' own archives: ``joints.mat`` (a MATLAB matrix ``joints`` of shape
(14, 3, N): x, y and a visibility flag of each joint of each image, 1 = visible) and
``images/im<number>.jpg``, image ``im00001.jpg`` being column 0. One person per image; the
person's box is the box of its visible joints, widened by ``bbox_margin`` of its size on each
side (MMPose's ``GetBBoxCenterScale`` then pads it as for any dataset). Only the images present
are indexed, so a folder holding part of the images (LSPET's 4,000 of 10,000, say) reads as
that part. Joints flagged invisible have weight 0 in the targets (so in the loss) and are left
out of :class:`~ausam_mm.pose.metrics.TorsoPCKAccuracy`.

Johnson and Everingham, "Learning Effective Human Pose Estimation from Inaccurate Annotation",
CVPR 2011 (LSPET); "Clustered Pose and Nonlinear Appearance Models for Human Pose Estimation",
BMVC 2010 (LSP). Cite them where results on the data are reported.
"""
import os
import os.path as osp
import re
from typing import List, Tuple

import numpy as np
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from .lsp_info import dataset_info

#: the image files of the layout: ``im`` and the 1-based column of ``joints.mat``
IMAGE_NAME = re.compile(r'^im(\d+)\.(jpg|jpeg|png)$', re.IGNORECASE)
_MAGIC = (b'\xff\xd8\xff', b'\x89PNG')  # JPEG, PNG


@DATASETS.register_module()
class LSPDataset(BaseCocoStyleDataset):
    """LSP / LSPET: ``joints.mat`` and ``images/`` (module docstring), one instance per image.

    Args:
        ann_file: the joints file, relative to ``data_root``. Default: ``'joints.mat'``.
        data_prefix: ``dict(img=...)``, the images folder relative to ``data_root``.
            Default: ``dict(img='images/')``.
        bbox_margin: the share of the visible joints' box added on each side. Default: 0.1.
        The others are MMPose's (``data_root``, ``data_mode``, ``pipeline``, ``test_mode``,
        ``indices``, ...); ``bbox_file`` is not supported (there are no detections).

    Examples:
        >>> train_dataloader = dict(dataset=dict(
        ...     type='LSPDataset', data_root='data/lspet/', data_mode='topdown',
        ...     pipeline=train_pipeline))
        >>> val_evaluator = dict(type='TorsoPCKAccuracy', thr=(0.2, 0.1))
    """

    METAINFO: dict = dataset_info

    def __init__(self, ann_file: str = 'joints.mat', data_prefix: dict = dict(img='images/'),
                 bbox_margin: float = 0.1, **kwargs) -> None:
        if not 0 <= bbox_margin < 1:
            raise ValueError(f'LSPDataset: `bbox_margin` must be in [0, 1), got {bbox_margin!r}')
        if kwargs.get('bbox_file'):
            raise ValueError('LSPDataset: `bbox_file` is not supported (LSP has one annotated '
                             'person per image and no detections); drop it')
        self.bbox_margin = bbox_margin
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        joints = read_joints(self.ann_file)
        folder = self.data_prefix['img']
        instances, images = [], []
        for number, name in image_files(folder, joints.shape[2], self.ann_file):
            xyv = joints[:, :, number - 1]
            visible = (xyv[:, 2] > 0).astype(np.float32)
            keypoints = xyv[:, :2].astype(np.float32)
            path = osp.join(folder, name)
            images.append(dict(img_id=number, img_path=path))
            instances.append(dict(
                img_id=number, id=number, img_path=path,
                bbox=self.box(keypoints[visible > 0]), bbox_score=np.ones(1, np.float32),
                keypoints=keypoints[None], keypoints_visible=visible[None],
                num_keypoints=int(visible.sum()), iscrowd=0, segmentation=None))
        return instances, images

    def box(self, points: np.ndarray) -> np.ndarray:
        """(1, 4) xyxy box of ``points`` (the visible joints), widened by ``bbox_margin``."""
        if len(points) == 0:  # no visible joint: no box; _is_valid_instance drops it
            return np.zeros((1, 4), np.float32)
        low, high = points.min(0), points.max(0)
        pad = self.bbox_margin * (high - low)
        return np.concatenate([low - pad, high + pad]).astype(np.float32)[None]


def read_joints(path: str) -> np.ndarray:
    """The (14, 3, N) ``joints`` matrix of an LSP/LSPET ``joints.mat``; clear errors otherwise."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'LSPDataset: no annotation file {path}; set `data_root` to the '
                                "LSP/LSPET folder (joints.mat and images/) or `ann_file` to the "
                                'joints file')
    from scipy.io import loadmat
    try:
        mat = loadmat(path)
    except Exception as error:  # scipy raises ValueError, TypeError, MatReadError, ...
        raise ValueError(f'LSPDataset: {path} is not a readable MATLAB file ({error}); '
                         "use the dataset's own joints.mat") from error
    joints = mat.get('joints')
    if joints is None or joints.ndim != 3 or joints.shape[:2] != (14, 3):
        got = 'no matrix `joints`' if joints is None else f'shape {joints.shape}'
        raise ValueError(f'LSPDataset: {path} must hold a matrix `joints` of shape (14, 3, N) '
                         f'(x, y, visible for 14 joints of N images: the LSPET layout), got '
                         f'{got}; an LSP file of shape (3, 14, N) must be transposed to '
                         '(14, 3, N), with its flag turned into 1 = visible')
    return joints


def image_files(folder: str, columns: int, ann_file: str) -> List[Tuple[int, str]]:
    """(number, file name) of the layout's images in ``folder``, by number; each one checked to
    be a JPEG or PNG file with an annotation column."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'LSPDataset: no images folder {folder}; set `data_root` and '
                                "`data_prefix=dict(img='images/')` to the folder of im00001.jpg...")
    found = []
    for name in os.listdir(folder):
        match = IMAGE_NAME.match(name)
        if match:
            found.append((int(match.group(1)), name))
    if not found:
        raise FileNotFoundError(f'LSPDataset: {folder} holds no image named im<number>.jpg; '
                                'point `data_root`/`data_prefix.img` at the LSP/LSPET images')
    found.sort()
    for number, name in found:
        path = osp.join(folder, name)
        if not 1 <= number <= columns:
            raise ValueError(f'LSPDataset: {path} has no annotation: {ann_file} describes '
                             f'images 1 to {columns}; remove the file or use its joints.mat')
        if not _is_image(path):
            raise ValueError(f'LSPDataset: {path} is not a readable JPEG or PNG image (empty or '
                             'damaged); copy it again from the dataset, or delete it to leave '
                             'the image out')
    return found


def _is_image(path: str) -> bool:
    try:
        with open(path, 'rb') as f:
            head = f.read(4)
    except OSError:
        return False
    return any(head.startswith(magic) for magic in _MAGIC)
