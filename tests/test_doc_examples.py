"""Every example of README.md and the docs, used the way a reader uses it.

- A ``python`` block without a ``_base_`` line is pasted below the ``_base_`` line of three real
  configs (MMPose's SimpleBaseline ResNet-50 on COCO, mmpretrain's CIFAR ResNet-18 and
  configs/demo/tiny_pose_coco.py), built by MMEngine's Runner and trained for one epoch of
  one iteration on samples (tests/data, or generated images for mmpretrain). A name assigned
  twice in one block is two alternatives (each is trained); a ``# mmpretrain instead: ...``
  line replaces its statement under the mmpretrain base.
- A ``python`` block with a ``_base_`` line is a whole config: loaded and trained as it stands.
- A ``bash`` block runs through bash with ``python``, ``make`` and ``pip`` recorded: each
  ``tools/train.py`` command is trained (shortened the same way; ``CONFIG`` stands for each of
  the three bases), each ``tools/export_qat.py`` command exports, and the commands that other
  tests run (``make demo``, ``pip install``) name the test that does.

Shortened means: the first epoch only, of one iteration (4 samples, batch 4), with the config's
own training length; no validation, no pretrained weights; data pointed at the samples only
where the config's own data is absent.
"""
import ast
import glob
import itertools
import os
import os.path as osp
import re
import shlex
import subprocess
import sys
import uuid
from typing import Dict, List, NamedTuple

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

pytest.importorskip('mmpose')
pytest.importorskip('mmpretrain')
from ausam_mm.cli.train import config_file, load_config, parse_args  # noqa: E402
from conftest import DATA, LSPET, ROOT  # noqa: E402

DOCS = ('README.md', 'docs/ausam.md', 'docs/pose.md', 'docs/quant.md', 'docs/reliability.md',
        'docs/install.md')
BASES = {
    'mmpose':
        'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
    'mmpretrain': 'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
    'tiny': osp.join(ROOT, 'configs', 'demo', 'tiny_pose_coco.py'),
}
INSTEAD = re.compile(r'#\s*mmpretrain instead:\s*(.+)$', re.M)
#: commands that run elsewhere in full: the command's start -> (file, what runs it there)
RUN_ELSEWHERE = {
    'make demo': ('tests/test_benchmarks/test_demo.py',
                  'def test_demo_prints_three_parts_their_readings_a_png_and_no_known_warnings('),
    'make test': ('.ci/run', 'stage test\n'),  # this suite, in CI
    'pip install /path/to/ausam_mm': ('tests/test_dev/test_install.py',
                                      'def test_pip_install_adds_only_ausam_mm('),
}
#: configs whose training is too slow for the suite on 2 cores: built, not trained
BUILD_ONLY = ('rtmo-s_coco-640x640', 'dekr_hrnet-w32')


class Example(NamedTuple):
    doc: str
    line: int
    text: str

    def __str__(self) -> str:
        return f'{self.doc}:{self.line}'


def examples(language: str) -> List[Example]:
    found = []
    for doc in DOCS:
        with open(osp.join(ROOT, doc)) as f:
            text = f.read()
        for m in re.finditer(rf'^```{language}\n(.*?)^```', text, re.S | re.M):
            found.append(Example(doc, text[:m.start()].count('\n') + 1, m.group(1)))
    return found


def target(statement: str) -> str:
    node = ast.parse(statement).body[0]
    return ast.unparse(node.targets[0]) if isinstance(node, ast.Assign) else ast.unparse(node)


def variants(code: str, base: str) -> List[str]:
    """The snippet's alternatives as pasteable code: one per choice of each name it assigns
    more than once, under ``base`` (its ``# mmpretrain instead`` lines applied)."""
    statements = [ast.get_source_segment(code, node) for node in ast.parse(code).body]
    if base == 'mmpretrain':
        instead = {target(s): s for s in INSTEAD.findall(code)}
        statements = [instead.get(target(s), s) for s in statements]
    groups: Dict[str, List[str]] = {}  # by name, in the order of first assignment
    for s in statements:
        groups.setdefault(target(s), []).append(s)
    return ['\n'.join(pick) + '\n' for pick in itertools.product(*groups.values())]


def image_folder(root) -> str:
    """mmpretrain's CustomDataset layout, root/<class>/<image>.png: 2 classes x 2 images."""
    import cv2
    rng = np.random.default_rng(0)
    for c in range(2):
        os.makedirs(osp.join(root, f'class{c}'), exist_ok=True)
        for i in range(2):
            cv2.imwrite(osp.join(root, f'class{c}', f'{i}.png'),
                        rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    return str(root)


def samples_for(dataset_type: str, tmp_path) -> dict:
    if dataset_type == 'CocoDataset':
        return dict(data_root=osp.join(DATA, 'coco') + '/', ann_file='test_coco.json',
                    data_prefix=dict(img=''))
    if dataset_type == 'MpiiDataset':
        return dict(data_root=osp.join(DATA, 'mpii') + '/', ann_file='test_mpii.json',
                    data_prefix=dict(img=''))
    if dataset_type == 'LSPDataset':
        if not osp.isfile(osp.join(LSPET, 'joints.mat')):
            pytest.skip(f'LSPET is not at {LSPET} (set LSPET_ROOT to its folder)')
        return dict(data_root=LSPET)
    if dataset_type in ('CIFAR10', 'CIFAR100', 'CustomDataset'):
        return dict(data_root=image_folder(tmp_path / 'images'), data_prefix='')
    raise AssertionError(f'no samples for a {dataset_type}: add them to this test')


def on_samples(dataset: dict, tmp_path) -> None:
    """Point the dataset (through its wrappers) at samples where its own data is absent, and
    keep 4 of them."""
    levels = [dataset]
    while isinstance(levels[-1].get('dataset'), dict):
        levels.append(levels[-1]['dataset'])
    inner = levels[-1]
    inner['indices'] = 4
    rooted = [level for level in levels if 'data_root' in level]
    if rooted and all(osp.isdir(osp.join(ROOT, level['data_root'])) for level in rooted):
        return  # the config's own data (relative to the repository, as its commands run)
    keys = samples_for(inner['type'], tmp_path)
    for level in rooted or [inner]:
        level.update(keys)
    if inner['type'].startswith('CIFAR'):  # mmpretrain's CIFAR config, on image files
        inner['type'] = 'CustomDataset'
        for level in levels:
            for key in ('split', 'test_mode', 'download'):
                level.pop(key, None)
            if 'pipeline' in level:
                level['pipeline'] = [dict(type='LoadImageFromFile')] + list(level['pipeline'])


def no_pretrained(node) -> None:
    """Drop every ``init_cfg`` that downloads weights."""
    if isinstance(node, dict):
        if isinstance(node.get('init_cfg'), dict) and 'checkpoint' in node['init_cfg']:
            node['init_cfg'] = None
        for value in node.values():
            no_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            no_pretrained(value)


def shortened(cfg: Config, tmp_path, checkpoint: bool = False) -> Config:
    on_samples(cfg.train_dataloader.dataset, tmp_path)
    cfg.train_dataloader.update(batch_size=4, num_workers=0, persistent_workers=False)
    for stage in ('val', 'test'):
        cfg[f'{stage}_cfg'] = cfg[f'{stage}_dataloader'] = cfg[f'{stage}_evaluator'] = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1) if checkpoint else None
    no_pretrained(cfg.model)
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.experiment_name = f'doc_example_{uuid.uuid4().hex[:8]}'  # one per Runner
    return cfg


class StopAfterTheFirstEpoch(Hook):
    """Ends training after its first epoch (of one iteration), with the config's own length
    (which the schedules of SAM and of the learning rate are checked against)."""

    def after_train_epoch(self, runner) -> None:
        runner.train_loop.stop_training = True


def trains(cfg: Config) -> Runner:
    runner = Runner.from_cfg(cfg)
    runner.register_hook(StopAfterTheFirstEpoch())
    runner.train()
    assert runner.iter == 1
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    return runner


def pasted(code: str, base: str, tmp_path) -> Config:
    path = tmp_path / 'pasted.py'
    path.write_text(f'_base_ = [{BASES[base]!r}]\n' + code)
    return Config.fromfile(str(path))


# -- config snippets -------------------------------------------------------------------------

def kind(example: Example) -> str:
    if re.search(r'^_base_ =', example.text, re.M):
        return 'config'
    return 'script' if re.search(r'^(import|from) \w', example.text, re.M) else 'snippet'


SNIPPETS = [e for e in examples('python') if kind(e) == 'snippet']
WHOLE = [e for e in examples('python') if kind(e) == 'config']
SCRIPTS = [e for e in examples('python') if kind(e) == 'script']


def snippet_cases():
    """Each snippet under every base; a snippet's alternatives spread over the bases."""
    for example in SNIPPETS:
        try:
            count = len(variants(example.text, 'mmpose'))
        except SyntaxError:  # fails in the test, with the line
            count = 1
        for b, base in enumerate(BASES):
            for v in range(count):
                if count == 1 or v % len(BASES) == b:
                    yield pytest.param(example, base, v, id=f'{example}-{base}-{v}')


@pytest.mark.parametrize('example,base,variant', list(snippet_cases()))
def test_config_snippet_pasted_under_a_real_base_trains(tmp_path, example, base, variant):
    code = variants(example.text, base)[variant]
    cfg = pasted(code, base, tmp_path)
    plain = Config.fromfile(config_file(BASES[base]))
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert hooks[:len(plain.get('custom_hooks', []))] == [
        h['type'] for h in plain.get('custom_hooks', [])], 'the base\'s hooks are kept'
    trains(shortened(cfg, tmp_path))


@pytest.mark.parametrize('example', WHOLE, ids=str)
def test_whole_config_example_trains(tmp_path, example):
    path = tmp_path / 'example.py'
    path.write_text(example.text)
    trains(shortened(Config.fromfile(str(path)), tmp_path))


@pytest.mark.parametrize('example', SCRIPTS, ids=str)
def test_python_example_runs_and_its_config_trains(tmp_path, monkeypatch, example):
    monkeypatch.chdir(ROOT)
    namespace = {}
    exec(compile(example.text, str(example), 'exec'), namespace)
    configs = [v for v in namespace.values() if isinstance(v, Config)]
    assert configs, f'{example}: no config to train'
    for cfg in configs:
        trains(shortened(cfg, tmp_path))


def test_the_pose_docs_simcc_form_trains_the_first_loss_of_what_ausam_writes(tmp_path):
    from ausam_mm.engine.convert import to_ausam
    example = next(e for e in WHOLE if 'PerSampleLoss' in e.text and 'simcc' in e.text)
    (tmp_path / 'doc.py').write_text(example.text)
    written = Config.fromfile(config_file(re.search(r"_base_ = \['([^']+)'\]",
                                                    example.text).group(1)))
    to_ausam(written, ratio=0.5, rho=0.05)
    losses = []
    for name, cfg in ('doc', Config.fromfile(str(tmp_path / 'doc.py'))), ('ausam', written):
        cfg.randomness = dict(seed=0)
        runner = trains(shortened(cfg, tmp_path / name))
        losses.append(runner.message_hub.get_scalar('train/loss').current())
    assert np.isfinite(losses[0]) and losses[0] == losses[1], losses


def test_a_broken_snippet_fails(tmp_path):
    """What the snippet test catches: a misspelt option of the README's snippet."""
    readme = next(e for e in SNIPPETS if e.doc == 'README.md' and 'AUSAMBatchSampler' in e.text)
    broken = variants(readme.text, 'tiny')[0].replace('ratio=0.5', 'ration=0.5')
    assert broken != variants(readme.text, 'tiny')[0]
    with pytest.raises(TypeError, match='ration'):
        trains(shortened(pasted(broken, 'tiny', tmp_path), tmp_path))


# -- command lines ---------------------------------------------------------------------------

RECORD = r'''
for name in python make pip; do
  eval "$name() { printf '%q ' $name \"\$@\" >> \"\$RECORD\"; echo >> \"\$RECORD\"; }"
done
'''


def recorded(example: Example) -> List[List[str]]:
    """The block's commands as bash expands them (variables, line continuations)."""
    record = f'/tmp/ausam_doc_commands_{os.getpid()}_{example.line}'
    open(record, 'w').close()
    subprocess.run(['bash', '-c', RECORD + example.text], check=True, cwd=ROOT,
                   env=dict(os.environ, RECORD=record))
    with open(record) as f:
        commands = [shlex.split(line) for line in f if line.strip()]
    os.remove(record)
    return commands


COMMANDS = [(example, i, command) for example in examples('bash')
            for i, command in enumerate(recorded(example))]


def command_cases():
    for example, i, command in COMMANDS:
        configs = BASES if 'CONFIG' in command else [None]
        for base in configs:
            yield pytest.param(example, command, base,
                               id=f'{example}-{i}' + (f'-{base}' if base else ''))


def checkpoint_for(path: str, tmp_path) -> str:
    """``work_dirs/<config name>/epoch_N.pth`` of a command, written by training that config."""
    name = osp.basename(osp.dirname(path))
    config, = glob.glob(osp.join(ROOT, 'configs', '*', name + '.py'))
    runner = trains(shortened(Config.fromfile(config), tmp_path / name, checkpoint=True))
    return osp.join(runner.work_dir, 'epoch_1.pth')


def in_tmp(argv: List[str], tmp_path) -> List[str]:
    """``work_dirs/...`` paths of a command under tmp_path, the checkpoints it reads written."""
    out = []
    for arg in argv:
        for path in re.findall(r'work_dirs/\S+\.pth', arg):
            arg = arg.replace(path, checkpoint_for(path, tmp_path))
        out.append(arg.replace('work_dirs/', str(tmp_path / 'work_dirs') + '/'))
    return out


def train_command(argv: List[str], tmp_path) -> None:
    args = parse_args(in_tmp(argv, tmp_path))
    cfg, changes = load_config(args)
    assert changes or not (args.sam is not None or args.ausam is not None)
    cfg = shortened(cfg, tmp_path)
    if any(name in args.config for name in BUILD_ONLY):
        runner = Runner.from_cfg(cfg)  # builds the model
        runner.build_optim_wrapper(cfg.optim_wrapper)
        return
    trains(cfg)


def export_command(argv: List[str], tmp_path, capsys) -> None:
    from ausam_mm.compat.torch_version import DYNAMO_ONNX_TORCH, has_dynamo_onnx_export
    tools = osp.join(ROOT, 'tools')  # as `python tools/export_qat.py` runs it: tools/ first
    if tools not in sys.path:
        sys.path.insert(0, tools)
    from export_qat import main
    argv = in_tmp(argv, tmp_path)
    if not has_dynamo_onnx_export():  # the compat end: the documented refusal, then skip
        with pytest.raises(SystemExit, match=rf'needs torch >= {DYNAMO_ONNX_TORCH}.*--torchscript'):
            main(argv)
        pytest.skip(f'ONNX export through torch.export needs torch >= {DYNAMO_ONNX_TORCH}; this '
                    f'is torch {torch.__version__} (its refusal was checked)')
    main(argv)
    printed = capsys.readouterr().out
    assert 'QuantizeLinear' in printed and 'onnxruntime check passed' in printed
    onnx = next(a for a in argv if a.endswith('.pth'))[:-len('.pth')] + '.onnx'
    assert osp.isfile(onnx) and osp.isfile(onnx + '.data')  # as docs/quant.md says


@pytest.mark.parametrize('example,command,base', list(command_cases()))
def test_command_line_runs(tmp_path, monkeypatch, capsys, example, command, base):
    monkeypatch.chdir(ROOT)
    line = ' '.join(command)
    elsewhere = [where for start, where in RUN_ELSEWHERE.items() if line.startswith(start)]
    if elsewhere:
        path, needle = elsewhere[0]
        with open(osp.join(ROOT, path)) as f:
            assert needle in f.read(), f'{line}: {path} no longer runs it'
        return
    if command[:2] == ['pip', 'install']:  # the optional packages: pinned in the lock
        with open(osp.join(ROOT, 'requirements', 'lock.txt')) as f:
            pinned = re.findall(r'^([\w-]+)==', f.read(), re.M)
        assert set(command[2:]) <= set(pinned), line
        return
    assert command[0] == 'python', line
    if base:
        command = [BASES[base] if arg == 'CONFIG' else arg for arg in command]
    if command[1] == 'tools/train.py':
        train_command(command[2:], tmp_path)
    elif command[1] == 'tools/export_qat.py':
        export_command(command[2:], tmp_path, capsys)
    else:
        raise AssertionError(f'{example}: no test runs {line}')


def test_what_ausam_prints_is_what_the_pose_doc_shows():
    """docs/pose.md's ``[ausam_mm]`` lines are the changes its ``--ausam`` command makes."""
    with open(osp.join(ROOT, 'docs', 'pose.md')) as f:
        text = f.read()
    shown = re.findall(r'^\[ausam_mm\] (.*)$', text, re.M)
    command = next(c for e, _, c in COMMANDS if e.doc == 'docs/pose.md' and '--ausam' in c)
    _, changes = load_config(parse_args(command[2:]))
    assert shown and set(shown) <= set(changes), (shown, changes)
