"""``IndexedDataset`` in configs that inherit a base: the base's dataset keys merged into the
wrapper reach the wrapped dataset; a key set twice to different values is one clear error that
shows the line to write."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

pytest.importorskip('mmpose')
from ausam_mm.engine import IndexedDataset  # noqa: E402
from conftest import DATA, ROOT  # noqa: E402

DEMO = osp.join(ROOT, 'configs', 'demo', 'tiny_pose_coco.py')


def pasted(tmp_path, dataset_line: str) -> Config:
    """A config that inherits the demo pose config and wraps its dataset as a user writes it,
    without ``_delete_``: the base's dataset keys merge into the wrapper's dict."""
    path = tmp_path / 'mine.py'
    path.write_text(f"_base_ = ['{DEMO}']\n"
                    "custom_imports = dict(imports=['ausam_mm'], allow_failed_imports=False)\n"
                    f'train_dataloader = dict(dataset={dataset_line})\n')
    return Config.fromfile(str(path))


def test_the_bases_keys_merged_into_the_wrapper_reach_the_wrapped_dataset(tmp_path):
    cfg = pasted(tmp_path, "dict(type='IndexedDataset', dataset=dict(type='CocoDataset'))")
    assert cfg.train_dataloader.dataset.data_root == 'tests/data/coco/'  # merged beside it
    init_default_scope('mmpose')
    cfg.train_dataloader.dataset.data_root = osp.join(DATA, 'coco') + '/'
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert isinstance(dataset, IndexedDataset) and len(dataset) > 0
    assert dataset.dataset.ann_file.endswith('test_coco.json')
    assert dataset[0]['data_samples'].metainfo['dataset_index'] == 0


def test_a_key_set_twice_names_both_values_and_the_line(tmp_path):
    cfg = pasted(tmp_path, "dict(type='IndexedDataset', dataset=dict(type='CocoDataset', "
                           "data_root='elsewhere/'))")
    init_default_scope('mmpose')
    with pytest.raises(ValueError, match=r"`data_root` is 'tests/data/coco/' beside the wrapper "
                                         r"and 'elsewhere/' in the wrapped dataset.*"
                                         r"train_dataloader.dataset.dataset.data_root="):
        DATASETS.build(cfg.train_dataloader.dataset)


def test_keys_beside_a_built_dataset_are_refused():
    with pytest.raises(ValueError, match=r"\['data_root'\] are dataset options"):
        IndexedDataset([1, 2, 3], data_root='x')
