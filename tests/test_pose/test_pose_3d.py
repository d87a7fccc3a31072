"""MMPose's 3D configs trained with ``tools/train.py --ausam`` on tiny synthetic datasets.

No 3D pose data ships, so ``tests/pose3d_data.py`` writes a few frames in the files MMPose's
unchanged ``Human36mDataset`` and ``InterHand3DDataset`` read. The upstream configs - VideoPose3D
(``TemporalRegressionHead``, a 27-frame TCN), MotionBERT (``MotionRegressionHead``, DSTFormer)
and InterNet (``InternetHead``, three losses) - train with their own pipelines, codecs, losses,
optimizers and schedules, shrunk by ``--cfg-options`` (channels, depth, input and heatmap
sizes, batch size). For each: 2 epochs of ``--ausam`` (a full-batch warm-up epoch, then half
of each candidate batch), every loss key logged, and ``--resume`` from the epoch-1 checkpoint
ends with the straight run's weights and score history bit for bit.
"""
import os.path as osp

import torch

from conftest import assert_resumed, history_of, log_of, run_train, weights
from pose3d_data import write_h36m, write_interhand

VIDEOPOSE = ('mmpose::body_3d_keypoint/video_pose_lift/h36m/'
             'video-pose-lift_tcn-27frm-supv_8xb128-160e_h36m.py')
MOTIONBERT = ('mmpose::body_3d_keypoint/motionbert/h36m/'
              'motionbert_dstformer-243frm_8xb32-240e_h36m.py')
INTERNET = ('mmpose::hand_3d_keypoint/internet/interhand3d/'
            'internet_res50_4xb16-20e_interhand3d-256x256.py')
DATASET = 'train_dataloader.dataset'  # --cfg-options apply before --ausam wraps it
RUN = ['train_cfg.max_epochs=2', 'train_dataloader.num_workers=0',
       'train_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1',
       'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=-1',
       'randomness.seed=0', 'log_level=INFO']


def train_and_resume(config, work_dir, options, samples, batch):
    """2 epochs of ``--ausam``, then the same run resumed from epoch 1: returns the straight
    run after checking that the resumed one ends identical."""
    argv = [config, '--work-dir', str(work_dir), '--no-validate', '--ausam', 'ramp_epochs=1',
            '--cfg-options', *RUN, f'train_dataloader.batch_size={batch}', *options]
    straight = run_train(argv)
    iters = 2 * -(-samples // batch)
    assert straight.epoch == 2 and straight.iter == iters
    assert f'ausam/selected: {batch // 2}' in log_of(straight)
    history = history_of(straight)
    # the warm-up epoch scores every sample once, epoch 2 half of each candidate batch
    assert history.coverage == 1.0
    assert int(history.count.sum()) == samples + samples // 2

    resumed = run_train(argv + ['--resume', str(work_dir / 'epoch_1.pth')])
    assert_resumed(resumed, 1, iters // 2)
    assert resumed.iter == iters
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(history.count, resumed.optim_wrapper.history.count)
    assert torch.equal(history.total, resumed.optim_wrapper.history.total)
    return straight


def test_videopose3d_config_trains_with_ausam_and_resumes_exactly(tmp_path):
    """TemporalRegressionHead + MPJPELoss: a sample is a 27-frame sequence (padded at the ends
    of a clip, one per frame), its loss the MPJPE of the middle frame."""
    samples = write_h36m(str(tmp_path / 'h36m'), videos=2, frames=6)
    options = [f'{DATASET}.data_root={tmp_path / "h36m"}',
               'model.backbone.stem_channels=32', 'model.head.in_channels=32']
    runner = train_and_resume(VIDEOPOSE, tmp_path / 'run', options, samples, batch=6)
    log = log_of(runner)
    assert ('[ausam_mm] model.head.loss = PerSampleLoss(MPJPELoss' in log
            and 'inner: Human36mDataset' in log and 'loss_pose3d' in log)


def test_motionbert_config_trains_with_ausam_and_resumes_exactly(tmp_path):
    """MotionRegressionHead + MPJPEVelocityJointLoss: a sample is a clip of 9 frames (upstream
    243, every 81), every frame a target."""
    frames = write_h36m(str(tmp_path / 'h36m'), videos=3, frames=12)
    options = [f'{DATASET}.data_root={tmp_path / "h36m"}', f'{DATASET}.multiple_target=9',
               f'{DATASET}.multiple_target_step=3', 'model.backbone.seq_len=9',
               'model.backbone.feat_size=16', 'model.backbone.depth=1',
               'model.backbone.num_heads=2', 'model.head.in_channels=16',
               'model.head.embedding_size=16', 'train_dataloader.prefetch_factor=None',
               'train_dataloader.pin_memory=False']
    samples = 3 * ((12 + 3 - 9) // 3)  # MMPose's clips of 9 frames, one every 3 frames
    assert frames == 36
    runner = train_and_resume(MOTIONBERT, tmp_path / 'run', options, samples, batch=6)
    log = log_of(runner)
    assert ('[ausam_mm] model.head.loss = PerSampleLoss(MPJPEVelocityJointLoss' in log
            and 'loss_pose3d' in log)


def test_internet_config_trains_with_ausam_and_resumes_exactly(tmp_path):
    """InternetHead on InterHand2.6M's files: its three losses (3D heatmaps, relative root
    depth, hand type) are each one value per hand image."""
    samples = write_interhand(str(tmp_path / 'ih'), images=8)
    codec = 'image_size=[64,64] heatmap_size=[8,8,4] depth_size=4'.split()
    options = [f'{DATASET}.data_root={tmp_path / "ih"}',
               f'{DATASET}.pipeline.4.input_size=(64,64)',
               *[f'{DATASET}.pipeline.5.encoder.{c}' for c in codec],
               *[f'model.head.decoder.{c}' for c in codec],
               'model.backbone.depth=18', 'model.backbone.stem_channels=8',
               'model.backbone.base_channels=8', 'model.backbone.init_cfg=None',
               'model.head.keypoint_head_cfg.in_channels=64',
               'model.head.keypoint_head_cfg.out_channels=84',
               'model.head.keypoint_head_cfg.depth_size=4',
               'model.head.keypoint_head_cfg.deconv_out_channels=(8,8)',
               'model.head.keypoint_head_cfg.deconv_kernel_sizes=(4,4)',
               'model.head.root_head_cfg.in_channels=64',
               'model.head.root_head_cfg.hidden_dims=(8,)',
               'model.head.hand_type_head_cfg.in_channels=64',
               'model.head.hand_type_head_cfg.hidden_dims=(8,)']
    runner = train_and_resume(INTERNET, tmp_path / 'run', options, samples, batch=4)
    log = log_of(runner)
    assert 'inner: InterHand3DDataset' in log
    for key in ('loss_kpt', 'loss_rel_root', 'loss_hand_type'):
        assert f'{key}: ' in log, key
    assert osp.exists(tmp_path / 'run' / 'epoch_2.pth')
