"""``compile`` with MMPose models: ``tools/train.py`` runs it as ``CompileForwardHook``, which
compiles the model's forward only (``nn.Module.compile``); the data preprocessor, which
MMEngine's ``compile=True`` traces and Dynamo cannot (MMPose's numpy metainfo), and the
optimizer wrapper's step run eagerly. The demo pose model trains through the tool's code path
with the base optimizer, SAM, AUSAM and ESAM, ends where the eager run ends and compiles a fixed few
graphs; the settings that cannot work are refused.
"""
import os.path as osp
import re
import uuid

import pytest
import torch
from mmengine.config import Config

from ausam_mm.cli.train import load_config, parse_args
from ausam_mm.compat.torch_version import COMPILE_FORWARD_TORCH, compiles_forward
from ausam_mm.engine import CompileForwardHook
from conftest import DATA, GraphCount, ROOT, log_of, needs_compile, toy_runner_cfg, train, weights

DEMO = osp.join(ROOT, 'configs', 'demo', 'tiny_pose_coco.py')
#: flag -> epochs: AUSAM's first epoch is its full-batch warm-up, its subsets come after
CASES = {'base': ([], 2), 'sam': (['--sam'], 2), 'ausam': (['--ausam', 'ratio=0.5'], 3),
         'esam': (['--esam', 'gamma=0.5'], 2)}
#: the demo's 12 COCO instances in batches of 4
ITERS_PER_EPOCH = 3


def pose_cfg(work_dir, flag, epochs, *options):
    """The demo pose config as ``tools/train.py DEMO [flag] --cfg-options ... *options``
    builds it: SGD (Adam's normalised steps magnify float rounding), no validation."""
    argv = [DEMO, '--no-validate', '--work-dir', str(work_dir), *flag, '--cfg-options',
            f'train_dataloader.dataset.data_root={DATA}/coco/', f'train_cfg.max_epochs={epochs}',
            'optim_wrapper.optimizer.type=SGD', 'optim_wrapper.optimizer.lr=0.05',
            f'experiment_name=c{uuid.uuid4().hex[:8]}', 'log_level=INFO', *options]
    return load_config(parse_args(argv))


@needs_compile
@pytest.mark.parametrize('case', list(CASES))
def test_pose_model_with_compile_trains_as_eager_and_stops_compiling(
        tmp_path, case, fresh_dynamo):
    flag, epochs = CASES[case]
    eager = weights(train(pose_cfg(tmp_path / 'eager', flag, epochs)[0]))

    cfg, changes = pose_cfg(tmp_path / 'compiled', flag, epochs, 'compile=True')
    assert 'compile' not in cfg
    assert any(c.startswith('compile=True -> custom_hooks: dict(type=\'CompileForwardHook\')')
               for c in changes)
    count = GraphCount()
    runner = train(cfg, count)
    assert 'train_step' not in vars(runner.model)  # MMEngine's compile did not run
    assert 'CompileForwardHook: compiled the forward of TopdownPoseEstimator' in log_of(runner)
    # inductor's kernels round differently from eager ones: within float tolerance
    torch.testing.assert_close(weights(runner), eager, rtol=1e-4, atol=1e-5)

    graphs = count.graphs
    # the first iterations compile (the train forward, the SAM forward at w + e with its
    # BatchNorm freeze, AUSAM's first subset, ESAM's ranking and descent forwards, MMPose's
    # numpy accuracy after graph breaks),
    # then none: the last epoch compiled nothing
    assert graphs[0] > 0
    assert len(count.compiling_iterations()) <= 4, f'graphs after each iteration: {graphs}'
    assert graphs[-1] == graphs[-1 - ITERS_PER_EPOCH], f'the last epoch compiled: {graphs}'


def test_tool_turns_compile_and_its_options_into_the_hook(tmp_path):
    cfg, changes = pose_cfg(tmp_path, ['--sam'], 1, 'compile.backend=aot_eager',
                            'compile.dynamic=False')
    assert 'compile' not in cfg
    assert [h for h in cfg.custom_hooks if h.type == 'CompileForwardHook'] == [
        dict(type='CompileForwardHook', backend='aot_eager', dynamic=False)]
    assert any(c.startswith("compile={'backend': 'aot_eager', 'dynamic': False} -> custom_hooks: "
                            "dict(type='CompileForwardHook', backend='aot_eager', dynamic=False)")
               for c in changes)
    assert 'ausam_mm' in cfg.custom_imports.imports

    # a config that has the hook already: the options go to it, no second hook
    path = str(tmp_path / 'with_hook.py')
    Config(dict(cfg.to_dict(), compile=dict(mode='max-autotune'))).dump(path)
    again, _ = load_config(parse_args([path, '--cfg-options', 'compile.backend=inductor']))
    assert [h for h in again.custom_hooks if h.type == 'CompileForwardHook'] == [
        dict(type='CompileForwardHook', backend='inductor', dynamic=False, mode='max-autotune')]

    # compile=False compiles nothing and stays as it is
    off, changes = pose_cfg(tmp_path, [], 1, 'compile=False')
    assert off.compile is False and not any('CompileForwardHook' in c for c in changes)
    assert all(h.type != 'CompileForwardHook' for h in off.custom_hooks)


@needs_compile
@pytest.mark.parametrize('runner_compile', [True, dict(backend='eager')])
def test_hook_with_mmengine_compile_is_refused_before_training(tmp_path, runner_compile):
    cfg = toy_runner_cfg(tmp_path, optim='SAMOptimWrapper', epochs=1,
                         custom_hooks=[dict(type='CompileForwardHook')], compile=runner_compile)
    with pytest.raises(ValueError, match=r"both MMEngine's compile=.*and custom_hooks' "
                                         r"CompileForwardHook.*Delete 'compile'"):
        train(cfg)


@needs_compile
def test_hook_refuses_options_torch_compile_does_not_take():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['backnd'\]; torch.compile takes"):
        CompileForwardHook(backnd='eager')


@pytest.mark.skipif(compiles_forward(), reason=f'torch {torch.__version__} is supported')
def test_hook_on_torch_2_1_names_the_version_and_the_alternative():
    with pytest.raises(RuntimeError, match=rf'needs torch >= {COMPILE_FORWARD_TORCH}; this is '
                                           rf'torch {re.escape(torch.__version__)}.*Upgrade '
                                           r"torch, or train without compiling"):
        CompileForwardHook()
