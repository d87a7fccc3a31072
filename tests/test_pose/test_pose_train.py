"""MMPose configs trained with SAM / AUSAM by real Runners, on the samples of tests/data.

- ``tools/train.py mmpose::<upstream config> --ausam``: the upstream SimCC-MPII and SimpleBaseline
  COCO configs (backbone, input size and data paths shrunk by ``--cfg-options``) train, log
  ``ausam/*`` and the applied changes; the dumped config reruns as is; ``--resume`` from the
  epoch-1 checkpoint gives the uninterrupted run's weights and score history exactly.
- ``SAMOptimWrapper`` on an MMPose top-down model from a config dict: trains and resumes exactly.
- Misconfigurations fail with a message that names the fix.
"""
import copy
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from ausam_mm.engine import resume_checkpoint_path
from ausam_mm.engine.convert import to_ausam
from ausam_mm.cli import train as train_tool
from conftest import ROOT, assert_resumed, history_of, log_of, pose_runner_cfg, run_train, weights
from pose_helpers import DATA, HEATMAP, MPII, estimator, pipeline  # noqa: F401

SIMCC_MPII = 'mmpose::body_2d_keypoint/simcc/mpii/simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py'
HEATMAP_COCO = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                'td-hm_res50_8xb64-210e_coco-256x192.py')
# --cfg-options apply before --ausam wraps the train dataset in IndexedDataset
DATASET = 'train_dataloader.dataset'
TINY = ['model.backbone.depth=18', 'model.backbone.stem_channels=8',
        'model.backbone.base_channels=8', 'model.backbone.init_cfg=None',
        'model.head.in_channels=64', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=1',
        'train_dataloader.persistent_workers=False', 'randomness.seed=0', 'log_level=INFO']


def data_options(name, pipeline_index):
    """Options that point the upstream train set at tests/data and shrink its input to 64x64."""
    root, ann = dict(coco=(osp.join(DATA, 'coco'), 'test_coco.json'),
                     mpii=(osp.join(DATA, 'mpii'), 'test_mpii.json'))[name]
    return [f'{DATASET}.data_root={root}', f'{DATASET}.ann_file={ann}',
            f'{DATASET}.data_prefix.img=',
            f'{DATASET}.pipeline.{pipeline_index}.input_size=(64,64)']


def test_ausam_flag_trains_upstream_simcc_mpii_config_and_dumped_config_reruns(tmp_path):
    options = TINY + data_options('mpii', 4) + [
        'model.head.input_size=(64,64)', 'model.head.in_featuremap_size=(2,2)',
        'model.head.decoder.input_size=(64,64)', f'{DATASET}.pipeline.5.encoder.input_size=(64,64)',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1']
    runner = run_train([SIMCC_MPII, '--work-dir', str(tmp_path / 'a'), '--no-validate',
                        '--ausam', 'ratio=0.5', 'rho=0.05', 'warmup_epochs=0',
                        '--cfg-options', *options])
    assert runner.iter == 2  # 5 MPII samples in candidate batches of 4 and 1
    log = log_of(runner)
    assert '[ausam_mm] model.head.loss = PerSampleLoss(KLDiscretLoss, batch_size=' in log
    assert ('[ausam_mm] train_dataloader.dataset wrapped in IndexedDataset (inner: MpiiDataset)'
            in log)
    assert 'ausam/selected: 2' in log and 'ausam/dlp_mean' in log and 'loss_kpt' in log
    assert runner.optim_wrapper.history.coverage == 3 / 5  # 2 of the first 4, then the last one

    dumped = str(tmp_path / 'a' / osp.basename(SIMCC_MPII.split('::')[1]))
    again = Config.fromfile(dumped)
    assert again.model.head.loss.type == 'PerSampleLoss'
    assert again.train_dataloader.batch_sampler.type == 'AUSAMBatchSampler'
    rerun = run_train([dumped, '--work-dir', str(tmp_path / 'b')])
    assert rerun.iter == 2 and rerun.optim_wrapper.history.coverage == 3 / 5


def test_ausam_flag_on_upstream_coco_heatmap_config_resumes_exactly(tmp_path):
    options = TINY + data_options('coco', 5) + [
        'model.head.deconv_out_channels=(8,8,8)', 'model.head.decoder.input_size=(64,64)',
        'model.head.decoder.heatmap_size=(16,16)',
        f'{DATASET}.pipeline.6.encoder.input_size=(64,64)',
        f'{DATASET}.pipeline.6.encoder.heatmap_size=(16,16)', 'train_dataloader.batch_size=6',
        # one worker, restarted each epoch with the same seed: the random augmentation of
        # epoch 1 is the same in the straight and the resumed run
        'train_dataloader.num_workers=1', 'train_cfg.max_epochs=2']
    argv = [HEATMAP_COCO, '--work-dir', str(tmp_path), '--no-validate', '--ausam',
            'ramp_epochs=1', '--cfg-options', *options]
    straight = run_train(argv)
    assert straight.iter == 4 and 'ausam/selected: 3' in log_of(straight)
    history = history_of(straight)
    assert history.coverage == 1.0 and int(history.count.sum()) == 12 + 6

    resumed = run_train(argv + ['--resume', str(tmp_path / 'epoch_1.pth')])
    assert_resumed(resumed, 1, 2)
    assert resumed.iter == 4
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(history.count, resumed.optim_wrapper.history.count)
    assert torch.equal(history.total, resumed.optim_wrapper.history.total)


def heatmap_model(per_sample=True):
    loss = dict(type='KeypointMSELoss', use_target_weight=True)
    head = dict(type='HeatmapHead', in_channels=64, out_channels=16,
                deconv_out_channels=(8, 8, 8), deconv_kernel_sizes=(4, 4, 4),
                loss=dict(type='PerSampleLoss', loss=loss) if per_sample else loss)
    return estimator(head)


def test_sam_optim_wrapper_trains_a_pose_model_from_config_and_resumes(tmp_path):
    cfg = pose_runner_cfg(tmp_path, heatmap_model(per_sample=False),
                          dict(MPII, pipeline=pipeline(HEATMAP)), optim='SAMOptimWrapper',
                          batch_size=2, epochs=2, log_level='INFO')
    straight = Runner.from_cfg(cfg)
    straight.train()
    assert straight.iter == 6  # 5 samples in batches of 2, twice
    assert 'sam/grad_norm' in log_of(straight) and 'loss_kpt' in log_of(straight)
    resume_cfg = copy.deepcopy(cfg)
    resume_cfg.update(resume=True, experiment_name=cfg.experiment_name + '_resumed',
                      load_from=resume_checkpoint_path(str(tmp_path),
                                                       str(tmp_path / 'epoch_1.pth')))
    resumed = Runner.from_cfg(resume_cfg)
    resumed.train()
    assert_resumed(resumed, 1, 3)
    assert resumed.iter == 6
    a, b = weights(straight), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ausam_without_per_sample_loss_fails_naming_the_fix(tmp_path):
    cfg = pose_runner_cfg(tmp_path, heatmap_model(), dict(MPII, pipeline=pipeline(HEATMAP)),
                          batch_size=4, epochs=1)
    cfg.model.head.loss = cfg.model.head.loss.loss  # the batch-mean loss --ausam would wrap
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r"loss 'loss_kpt' has shape \(\), expected \(4,\)"
                                         r"(.|\n)*type='PerSampleLoss'(.|\n)*--ausam"):
        runner.train()


def test_unknown_head_loss_or_head_fails_naming_the_fix():
    cfg = Config.fromfile(train_tool.config_file(HEATMAP_COCO))
    cfg.model.head.loss = dict(type='BoneLoss', joint_parents=list(range(17)))
    with pytest.raises(ValueError, match=r"model.head.loss is BoneLoss(.|\n)*"
                                         r"model.head.loss = dict\(type='PerSampleLoss'"):
        to_ausam(copy.deepcopy(cfg))
    # the heads that stay refused name their real loss keys, not a model.head.loss
    cid = Config.fromfile(train_tool.config_file(
        'mmpose::body_2d_keypoint/cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py'))
    with pytest.raises(ValueError, match=r"head.type='CIDHead' cannot be split per sample: its "
                                         r"contrastive loss(.|\n)*Its losses: "
                                         r"model.head.coupled_heatmap_loss, "
                                         r"model.head.decoupled_heatmap_loss, "
                                         r"model.head.contrastive_loss\."):
        to_ausam(cid)
    # the explicit form is accepted for any head: the user vouches for it
    cfg.model.head.loss = dict(type='PerSampleLoss', loss=dict(type='BoneLoss',
                                                               joint_parents=list(range(17))),
                               batch_reduction='mean')
    assert 'model.head.loss' not in ' '.join(to_ausam(cfg))


def test_ausam_config_conversion_fills_in_the_head_default_loss_and_is_idempotent():
    cfg = Config.fromfile(train_tool.config_file(HEATMAP_COCO))
    del cfg.model.head['loss']  # HeatmapHead's default: KeypointMSELoss(use_target_weight=True)
    changes = to_ausam(cfg)
    assert any(c.startswith('model.head.loss = PerSampleLoss(KeypointMSELoss, batch_size=')
               for c in changes)
    assert cfg.model.head.loss.loss == dict(type='KeypointMSELoss', use_target_weight=True)
    before = copy.deepcopy(cfg.to_dict())
    assert not [c for c in to_ausam(cfg) if 'loss' in c] and cfg.to_dict() == before
    assert os.path.basename(train_tool.config_file(HEATMAP_COCO)) == osp.basename(HEATMAP_COCO)


@pytest.mark.parametrize('form', ['scoped', 'class'])
def test_pose_adapter_resolves_loss_and_head_types_as_the_registry_does(form):
    """type='mmpose.KeypointMSELoss' or the class itself is the loss MMPose's registry builds:
    --ausam wraps it like the bare name."""
    from mmpose.models.heads import HeatmapHead
    from mmpose.models.losses import KeypointMSELoss
    cfg = Config.fromfile(train_tool.config_file(HEATMAP_COCO))
    if form == 'scoped':
        cfg.model.head.type = 'mmpose.HeatmapHead'
        cfg.model.head.loss = dict(type='mmpose.KeypointMSELoss', use_target_weight=True)
    else:
        cfg.model.head.type = HeatmapHead
        cfg.model.head.loss = dict(type=KeypointMSELoss, use_target_weight=True)
    changes = to_ausam(cfg)
    assert any(c.startswith('model.head.loss = PerSampleLoss(KeypointMSELoss') for c in changes)
    assert cfg.model.head.loss.type == 'PerSampleLoss'


CONFIGS = osp.join(ROOT, 'configs')
TRIOS = [('simcc_res50_mpii-256x256', 'sgd', 'MpiiDataset'),
         ('td-hm_res50_coco-256x192', 'adam', 'CocoDataset'),
         ('rtmpose-s_coco-256x192', 'adamw', 'CocoDataset'),
         ('rtmo-s_coco-640x640', 'adamw', 'CocoDataset')]


@pytest.mark.parametrize('name,base,dataset', TRIOS, ids=[t[0] for t in TRIOS])
def test_shipped_pose_configs_are_their_base_plus_what_sam_and_ausam_need(name, base, dataset):
    def load(kind):
        return Config.fromfile(osp.join(CONFIGS, 'pose', f'{name}_{kind}.py'))

    plain, sam, ausam = load(base), load('sam'), load('ausam')
    assert plain.train_dataloader.dataset.type == dataset
    assert plain.train_dataloader.dataset.data_root.startswith('data/')  # MMPose's layout
    expected_sam = copy.deepcopy(plain)
    expected_sam.optim_wrapper.type, expected_sam.optim_wrapper.rho = 'SAMOptimWrapper', 0.05
    expected_sam.custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)
    assert sam.to_dict() == expected_sam.to_dict()
    changes = to_ausam(plain, rho=0.05)  # AUSAM's defaults: the config restates none
    assert any('PerSampleLoss' in c or 'PerImageRTMOHead' in c for c in changes)
    assert ausam.to_dict() == plain.to_dict()  # the explicit form is what --ausam writes


def test_demo_configs_ausam_form_is_what_the_ausam_flag_writes():
    plain = Config.fromfile(osp.join(CONFIGS, 'demo', 'tiny_pose_coco.py'))
    ausam = Config.fromfile(osp.join(CONFIGS, 'demo', 'ausam_tiny_pose_coco.py'))
    before = copy.deepcopy(ausam.to_dict())
    to_ausam(ausam)  # nothing left to convert
    assert ausam.to_dict() == before
    assert plain.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    to_ausam(plain, ratio=0.5, rho=0.01)
    assert plain.to_dict() == ausam.to_dict()
    assert ausam.train_dataloader.dataset.dataset.data_root == 'tests/data/coco/'
