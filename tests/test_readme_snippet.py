"""README's explicit AUSAM config, pasted under the `_base_` line of a real MMPose config
(SimpleBaseline ResNet-50, COCO 256x192) and of the demo config, is what `--ausam` writes, the
base's hooks kept; docs/pose.md's explicit SimCC form is what `--ausam` writes too.
(tests/test_doc_examples.py trains both, and every other example of the docs.)"""
import copy
import os.path as osp
import re

import pytest
from mmengine.config import Config

pytest.importorskip('mmpose')
from ausam_mm.cli.train import config_file  # noqa: E402
from ausam_mm.engine.convert import to_ausam  # noqa: E402
from conftest import ROOT  # noqa: E402

TD_HM = 'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py'
DEMO = osp.join(ROOT, 'configs', 'demo', 'tiny_pose_coco.py')


def readme_snippet() -> str:
    """The python block under README's "Or explicitly" paragraph."""
    with open(osp.join(ROOT, 'README.md')) as f:
        text = f.read()
    after = text.split('Or explicitly', 1)[1]
    return re.search(r'```python\n(.*?)```', after, re.S).group(1)


def pasted(tmp_path, base: str) -> Config:
    path = tmp_path / 'mine.py'
    path.write_text(f'_base_ = [{base!r}]\n' + readme_snippet())
    return Config.fromfile(str(path))


def unscoped(value):
    """``value`` as plain data without the ``_scope_`` keys a ``package::`` base adds."""
    if hasattr(value, 'to_dict'):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: unscoped(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [unscoped(v) for v in value]
    return value


@pytest.mark.parametrize('base', [TD_HM, DEMO], ids=['td-hm_res50_coco', 'demo'])
def test_readme_snippet_pasted_under_a_base_is_what_ausam_writes(tmp_path, base):
    cfg = pasted(tmp_path, base)
    plain = Config.fromfile(config_file(base))
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert hooks == [h['type'] for h in plain.get('custom_hooks', [])] + ['AUSAMHook']
    converted = copy.deepcopy(plain)
    to_ausam(converted, rho=0.05)
    for key in ('optim_wrapper', 'custom_hooks', 'model'):
        assert unscoped(cfg[key]) == unscoped(converted[key]), key
    mine, theirs = unscoped(cfg.train_dataloader), unscoped(converted.train_dataloader)
    wrapper = mine.pop('dataset')  # the base's dataset keys merged beside the wrapped type,
    inner = dict(wrapper.pop('dataset'), **{k: v for k, v in wrapper.items() if k != 'type'})
    assert inner == theirs.pop('dataset')['dataset'] and mine == theirs  # which it passes on


def test_the_pose_docs_explicit_simcc_form_is_what_ausam_writes(tmp_path):
    with open(osp.join(ROOT, 'docs', 'pose.md')) as f:
        after = f.read().split('The explicit form, in a config that inherits MMPose', 1)[1]
    snippet = re.search(r'```python\n(.*?)```', after, re.S).group(1)
    (tmp_path / 'simcc.py').write_text(snippet)
    explicit = Config.fromfile(str(tmp_path / 'simcc.py'))
    base = re.search(r"_base_ = \['([^']+)'\]", snippet).group(1)
    converted = Config.fromfile(config_file(base))
    to_ausam(converted, ratio=0.5, rho=0.05)
    assert converted.model.head.loss.batch_size == 64  # the loss scale --ausam sets
    for key in ('optim_wrapper', 'custom_hooks', 'train_dataloader', 'model'):
        assert unscoped(explicit[key]) == unscoped(converted[key]), key
