"""Sample indices through MMPose's datasets: ``IndexedDataset`` over ``CombinedDataset`` gives
each sample its global index, and RTMPose's ``PipelineSwitchHook`` (mmdet's, assigns
``dataset.pipeline``) switches the wrapped dataset's pipeline while the indices keep flowing to
the AUSAM wrapper.
"""
from mmcv.transforms import Compose
from mmengine.runner import Runner
from mmpose.registry import DATASETS

from ausam_mm.engine import IndexedDataset
from ausam_mm.engine.datasets.indexed_dataset import INDEX_KEY
from conftest import pose_runner_cfg
from pose_helpers import COCO, HEATMAP, build, combined, estimator, pipeline


def test_indexed_combined_dataset_gives_global_indices():
    pipe = pipeline(HEATMAP)
    inner = build(DATASETS, combined(pipe))
    dataset = IndexedDataset(inner)
    assert len(dataset) == 12 + 5 == sum(inner.lens)
    for i in (0, 11, 12, 16):  # both ends of both subsets
        sample = dataset[i]['data_samples']
        assert sample.metainfo[INDEX_KEY] == i
        assert sample.img_path == inner.get_data_info(i)['img_path']
        assert sample.gt_instance_labels.keypoint_weights.shape == (1, 17)  # converted
    assert 'mpii' in dataset[12]['data_samples'].img_path


def test_pipeline_switch_hook_switches_the_wrapped_pipeline_and_indices_flow(tmp_path):
    stage2 = pipeline(HEATMAP, extra=[dict(type='RandomBBoxTransform', shift_prob=0,
                                           rotate_prob=0, scale_prob=0)])
    head = dict(type='HeatmapHead', in_channels=64, out_channels=17,
                deconv_out_channels=(8, 8, 8), deconv_kernel_sizes=(4, 4, 4),
                loss=dict(type='PerSampleLoss',
                          loss=dict(type='KeypointMSELoss', use_target_weight=True)))
    cfg = pose_runner_cfg(tmp_path, estimator(head), combined(pipeline(HEATMAP)), epochs=2,
                          custom_hooks=[dict(type='mmdet.PipelineSwitchHook', switch_epoch=1,
                                             switch_pipeline=stage2)])
    cfg.pop('custom_imports')  # a config-file key (Runner() does not take it): imported here
    runner = Runner(**cfg.to_dict())  # a Runner without cfg: no config text to format
    runner.train()
    wrapper = runner.train_dataloader.dataset
    assert isinstance(wrapper, IndexedDataset) and 'pipeline' not in vars(wrapper)
    switched = [type(t).__name__ for t in wrapper.dataset.pipeline.transforms]
    assert 'RandomBBoxTransform' in switched and isinstance(wrapper.pipeline, Compose)
    history = runner.optim_wrapper.history
    # epoch 0 (warm-up) scored all 17 samples once; epoch 1 ran on the switched pipeline and
    # posted its subsets (a batch without indices would have raised)
    assert history.coverage == 1.0 and int(history.count.sum()) == 17 + 4 + 4 + 1


def test_indexed_dataset_passes_on_the_pipeline_of_a_dataloader_rebuild():
    """MMPose's YOLOXPoseModeSwitchHook (RTMO, YOLOX-Pose) rebuilds the train dataloader with
    ``train_dataloader.dataset.pipeline = <stage 2>``: under ``--ausam`` that key belongs to
    ``IndexedDataset``, which hands it to the wrapped dataset."""
    stage2 = pipeline(HEATMAP, extra=[dict(type='RandomBBoxTransform', shift_prob=0,
                                           rotate_prob=0, scale_prob=0)])
    coco = dict(COCO, pipeline=pipeline(HEATMAP))
    for dataset in (coco, build(DATASETS, coco)):  # a config, or a built dataset
        wrapped = build(DATASETS, dict(type='IndexedDataset', dataset=dataset, pipeline=stage2))
        names = [type(t).__name__ for t in wrapped.dataset.pipeline.transforms]
        assert 'RandomBBoxTransform' in names
        assert wrapped[3]['data_samples'].metainfo[INDEX_KEY] == 3
