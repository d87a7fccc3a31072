"""LSP / LSPET in MMPose: ``LSPDataset`` (the layout, the boxes, the bad inputs),
``TorsoPCKAccuracy`` on hand-made predictions, and the shipped LSPET config trained with
``--ausam``. The real-data tests read LSPET from ``LSPET_ROOT`` or, in CI, from the shared data
folder beside the repository (Johnson and Everingham, CVPR 2011); a clone without it skips them.
The bad-input tests build their own small layout."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.runner import Runner

pytest.importorskip('mmpose')
cv2 = pytest.importorskip('cv2')
scipy_io = pytest.importorskip('scipy.io')
loadmat, savemat = scipy_io.loadmat, scipy_io.savemat
from mmpose.datasets.datasets.utils import parse_pose_metainfo  # noqa: E402

from ausam_mm.cli.train import load_config, parse_args  # noqa: E402
from ausam_mm.pose.datasets import LSPDataset  # noqa: E402
from ausam_mm.pose.metrics import TorsoPCKAccuracy, torso_pck  # noqa: E402
from conftest import LSPET, ROOT, needs_lspet  # noqa: E402

CONFIG = osp.join(ROOT, 'configs', 'lsp', 'td-hm_tiny_lspet-128x128.py')
LEFT_SHOULDER, RIGHT_HIP = 9, 2


@needs_lspet
def test_lspet_indexes_the_images_present_with_their_joints_and_boxes():
    dataset = LSPDataset(data_root=LSPET, test_mode=True)
    images = sorted(n for n in os.listdir(osp.join(LSPET, 'images')) if n.endswith('.jpg'))
    assert len(dataset) == len(images) < 10000  # joints.mat describes 10,000; some are here
    joints = loadmat(osp.join(LSPET, 'joints.mat'))['joints']
    for i in (0, 1, 1234, len(dataset) - 1):
        info = dataset.get_data_info(i)
        number = int(osp.basename(info['img_path'])[2:7])
        assert osp.basename(info['img_path']) == images[i] == f'im{number:05d}.jpg'
        np.testing.assert_allclose(info['keypoints'][0], joints[:, :2, number - 1], rtol=1e-6)
        visible = joints[:, 2, number - 1] > 0
        np.testing.assert_array_equal(info['keypoints_visible'][0], visible.astype(np.float32))
        points = joints[visible, :2, number - 1]
        low, high = points.min(0), points.max(0)  # the visible joints' box, 10 % each side
        expected = np.concatenate([low - 0.1 * (high - low), high + 0.1 * (high - low)])
        np.testing.assert_allclose(info['bbox'][0], expected, rtol=1e-5)
    assert dataset.metainfo['flip_indices'] == [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13]


def poses(n: int = 6, seed: int = 0):
    """``n`` random poses of 14 joints with torsos of different lengths, all visible."""
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 200, size=(n, 14, 2))
    return gt, np.ones((n, 14))


def torso_of(gt):
    return np.linalg.norm(gt[:, LEFT_SHOULDER] - gt[:, RIGHT_HIP], axis=-1)


def test_pck_of_perfect_shifted_and_invisible_predictions():
    gt, visible = poses()
    torso = torso_of(gt)
    assert torso_pck(gt, gt, visible, (LEFT_SHOULDER, RIGHT_HIP), 0.2) == (1.0, 6)
    # every joint off by 0.15 of its own image's torso: within 0.2 of it, outside 0.1
    shifted = gt + np.stack([0.15 * torso, 0 * torso], -1)[:, None]
    assert torso_pck(shifted, gt, visible, (LEFT_SHOULDER, RIGHT_HIP), 0.2)[0] == 1.0
    assert torso_pck(shifted, gt, visible, (LEFT_SHOULDER, RIGHT_HIP), 0.1)[0] == 0.0
    # half the joints off by 0.15 torso: PCK@0.1 is the share of joints, 0.5
    half = gt.copy()
    half[:, :7] = shifted[:, :7]
    assert torso_pck(half, gt, visible, (LEFT_SHOULDER, RIGHT_HIP), 0.1)[0] == 0.5
    # a far-off prediction of an invisible joint does not count
    hidden, wrong = visible.copy(), gt.copy()
    hidden[:, 0], wrong[:, 0] = 0, 1e4
    assert torso_pck(wrong, gt, hidden, (LEFT_SHOULDER, RIGHT_HIP), 0.1)[0] == 1.0
    assert torso_pck(wrong, gt, visible, (LEFT_SHOULDER, RIGHT_HIP), 0.1)[0] == 13 / 14
    # an image whose torso joint is invisible is left out: its wrong joints do not count
    no_torso = visible.copy()
    no_torso[0, LEFT_SHOULDER] = 0
    wrong = gt.copy()
    wrong[0] += 1e4
    assert torso_pck(wrong, gt, no_torso, (LEFT_SHOULDER, RIGHT_HIP), 0.2) == (1.0, 5)


def test_the_metric_reads_mmpose_data_samples_and_names_its_keys():
    gt, visible = poses(4)
    torso = torso_of(gt)
    metric = TorsoPCKAccuracy(thr=(0.2, 0.1))
    metric.dataset_meta = parse_pose_metainfo(LSPDataset.METAINFO)
    pred = gt.copy()
    pred[:2] += np.stack([0.15 * torso[:2], 0 * torso[:2]], -1)[:, None]  # 2 of 4 images off
    samples = [dict(gt_instances=dict(keypoints=gt[i:i + 1], keypoints_visible=visible[i:i + 1]),
                    pred_instances=dict(keypoints=pred[i:i + 1])) for i in range(4)]
    metric.process([], samples)
    result = metric.evaluate(4)
    assert result == {'pck/PCK@0.2': 1.0, 'pck/PCK@0.1': 0.5, 'pck/n_images': 4}
    with pytest.raises(ValueError, match='no joint named'):
        metric = TorsoPCKAccuracy(torso=('left_shoulder', 'right_hips'))
        metric.dataset_meta = dict(keypoint_name2id={'left_shoulder': 0, 'right_hip': 1})
        metric.process([], samples)
        metric.evaluate(4)


# -- bad inputs -------------------------------------------------------------------------------

def layout(tmp_path, n=3, shape=(14, 3, 5)):
    """A small LSPET layout: ``n`` real JPEG files (drawn) and a joints.mat of ``shape``."""
    root = tmp_path / 'lsp'
    (root / 'images').mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        cv2.imwrite(str(root / 'images' / f'im{i:05d}.jpg'),
                    rng.integers(0, 255, (60, 50, 3), dtype=np.uint8))
    joints = rng.uniform(5, 45, size=shape)
    if shape[:2] == (14, 3):
        joints[:, 2] = 1
    savemat(str(root / 'joints.mat'), dict(joints=joints))
    return root


def test_a_small_layout_loads(tmp_path):
    assert len(LSPDataset(data_root=str(layout(tmp_path)), test_mode=True)) == 3


def test_bad_layouts_name_the_file_and_the_fix(tmp_path):
    root = layout(tmp_path)
    with pytest.raises(FileNotFoundError, match=r'no annotation file .*nope\.mat.*data_root'):
        LSPDataset(data_root=str(root), ann_file='nope.mat')
    savemat(str(root / 'other.mat'), dict(joints=np.zeros((3, 14, 5))))
    with pytest.raises(ValueError, match=r'other\.mat must hold a matrix `joints` of shape '
                                         r'\(14, 3, N\).*got shape \(3, 14, 5\)'):
        LSPDataset(data_root=str(root), ann_file='other.mat')
    savemat(str(root / 'none.mat'), dict(points=np.zeros((14, 3, 5))))
    with pytest.raises(ValueError, match='got no matrix `joints`'):
        LSPDataset(data_root=str(root), ann_file='none.mat')
    (root / 'text.mat').write_text('not matlab')
    with pytest.raises(ValueError, match=r'text\.mat is not a readable MATLAB file'):
        LSPDataset(data_root=str(root), ann_file='text.mat')
    (root / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match=r'empty/ holds no image named im<number>\.jpg'):
        LSPDataset(data_root=str(root), data_prefix=dict(img='empty/'))
    with pytest.raises(FileNotFoundError, match='no images folder'):
        LSPDataset(data_root=str(root), data_prefix=dict(img='gone/'))


def test_an_unreadable_or_unannotated_image_is_named(tmp_path):
    root = layout(tmp_path)
    (root / 'images' / 'im00002.jpg').write_bytes(b'')
    with pytest.raises(ValueError, match=r'im00002\.jpg is not a readable JPEG or PNG image'):
        LSPDataset(data_root=str(root))
    root = layout(tmp_path / 'b')
    cv2.imwrite(str(root / 'images' / 'im00009.jpg'), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r'im00009\.jpg has no annotation: .*images 1 to 5'):
        LSPDataset(data_root=str(root))


# -- the config, trained with --ausam ----------------------------------------------------------

@needs_lspet
def test_the_lspet_config_trains_with_ausam_and_scores_held_out_images(tmp_path):
    args = parse_args([CONFIG, '--work-dir', str(tmp_path), '--ausam', 'ratio=0.5', 'rho=0.02',
                       '--cfg-options', f'train_dataloader.dataset.data_root={LSPET}',
                       'train_dataloader.dataset.indices=16', 'train_dataloader.batch_size=8',
                       f'val_dataloader.dataset.data_root={LSPET}',
                       'val_dataloader.dataset.indices=[3000,3001,3002,3003]',
                       'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    cfg, _ = load_config(args)
    assert cfg.train_dataloader.dataset.type == 'IndexedDataset'  # --ausam wrapped it
    assert cfg.model.head.loss.type == 'PerSampleLoss'
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert set(metrics) == {'pck/PCK@0.2', 'pck/PCK@0.1', 'pck/n_images'}
    assert 0 <= metrics['pck/PCK@0.1'] <= metrics['pck/PCK@0.2'] <= 1
    assert runner.optim_wrapper.history.coverage > 0  # AUSAM scored the samples it trained on
