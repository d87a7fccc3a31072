"""The dataset identity AUSAM keeps with its scores (``IndexedDataset.fingerprint``): the same
samples give the same fingerprint wherever the dataset lies and however MMEngine holds it;
another annotation, another order or other samples give another. Its cost at COCO's size is
measured by ``python -m benchmarks.scale`` (docs/benchmarks.md), not here."""
import json
import shutil

import pytest

pytest.importorskip('mmpose')
from mmpose.datasets import CocoDataset  # noqa: E402

from ausam_mm.engine import IndexedDataset  # noqa: E402
from ausam_mm.engine.datasets.indexed_dataset import FINGERPRINT_SCHEME  # noqa: E402
from ausam_mm.engine.upgrade import upgrade_fingerprint  # noqa: E402
from conftest import DATA  # noqa: E402


def coco(root, **kwargs):
    return IndexedDataset(CocoDataset(data_root=str(root), ann_file='test_coco.json',
                                      data_prefix=dict(img=''), data_mode='topdown',
                                      pipeline=[], **kwargs))


@pytest.fixture
def two_copies(tmp_path):
    """tests/data/coco in two folders whose paths differ in length too."""
    a, b = tmp_path / 'a', tmp_path / 'somewhere' / 'else' / 'b'
    shutil.copytree(f'{DATA}/coco', a)
    shutil.copytree(f'{DATA}/coco', b)
    return a, b


def test_a_moved_dataset_keeps_its_fingerprint_another_annotation_does_not(two_copies):
    a, b = two_copies
    first = coco(a).fingerprint()
    assert first.startswith(FINGERPRINT_SCHEME)
    assert coco(b).fingerprint() == first  # moved: the same samples
    assert coco(b, serialize_data=False).fingerprint() == first  # held as a list
    ann = json.loads((b / 'test_coco.json').read_text())
    ann['annotations'][0]['keypoints'][0] += 1  # one joint of one person, one pixel
    (b / 'test_coco.json').write_text(json.dumps(ann))
    assert coco(b).fingerprint() != first
    assert coco(a, indices=[1, 0, 2, 3, 4, 5, 6, 7, 8, 9]).fingerprint() != \
        coco(a, indices=list(range(10))).fingerprint()  # another order of the same samples


def test_a_fingerprint_of_0_2_0_is_upgraded_only_when_it_matches(two_copies):
    a, b = two_copies
    dataset = coco(a)
    legacy = dict(size=len(dataset), fingerprint=dataset.legacy_fingerprint())
    assert not legacy['fingerprint'].startswith(FINGERPRINT_SCHEME)
    assert upgrade_fingerprint(legacy, coco(b))['fingerprint'] == dataset.fingerprint()
    ann = json.loads((b / 'test_coco.json').read_text())
    ann['annotations'][0]['bbox'][0] += 1
    (b / 'test_coco.json').write_text(json.dumps(ann))
    changed = coco(b)
    assert upgrade_fingerprint(legacy, changed) == legacy  # left for the history to refuse
