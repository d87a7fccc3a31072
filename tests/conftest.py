"""The tests' shared helpers: runner configs (toy and MMPose; AUSAM ones built by
``to_ausam``), the AUSAM sampler, copies of a run's state, and the suite's fixtures."""
import copy
import os
import sys
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import DefaultSampler
from mmengine.hooks import Hook
from mmengine.logging import MessageHub

#: the tests folder (the helpers: toy.py, pose_helpers.py, ...) and the repository root
TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, TESTS)  # tests/toy.py and friends, from the tests in subfolders too
# the dependencies' known-harmless warnings, filtered with the tools' own list (so any other
# warning shows in pytest's summary); this also keeps albumentations from asking PyPI for a
# newer version at import (NO_ALBUMENTATIONS_UPDATE, inherited by the tests' subprocesses)
from tools.known_warnings import filter_lines, silence  # noqa: E402

silence()

import ausam_mm  # noqa: E402,F401  (registers)
from ausam_mm.compat.torch_version import COMPILE_FORWARD_TORCH, GRAD_SCALER_TORCH, \
    compiles_forward  # noqa: E402
from ausam_mm.engine import AUSAMBatchSampler, IndexedDataset  # noqa: E402
from ausam_mm.engine.convert import to_ausam  # noqa: E402
from toy import ToyImageDataset  # noqa: E402

#: AMP on the CPU needs torch's device-generic GradScaler (torch >= 2.3); on torch 2.1/2.2 the
#: Amp* wrappers refuse the CPU (tested), so the tests that train with it there are skipped.
needs_cpu_amp = pytest.mark.skipif(
    not hasattr(torch.amp, 'GradScaler'),
    reason=f'AMP on the CPU needs torch >= {GRAD_SCALER_TORCH} (torch.amp.GradScaler); '
           f'this is torch {torch.__version__}')

#: torch 2.1.2's Dynamo fails on the suite's compiled runs: MMEngine's compile=True in its own
#: stack_batch (mmpretrain's ClsDataPreprocessor, base optimizer included), the forward of
#: MMPose's heads on mmcv's ConvTranspose2d (CompileForwardHook refuses that torch, tested).
needs_compile = pytest.mark.skipif(
    not compiles_forward(),
    reason=f'compiled runs need torch >= {COMPILE_FORWARD_TORCH}: the Dynamo of torch '
           f'{torch.__version__} fails on them (MMEngine\'s stack_batch, mmcv\'s ConvTranspose2d)')

DATA = os.path.join(TESTS, 'data')
#: LSPET (Johnson and Everingham, CVPR 2011): LSPET_ROOT, or in CI the shared data folder beside
#: the repository; a clone without it skips the tests that need it
LSPET = os.environ.get('LSPET_ROOT', os.path.join(os.path.dirname(ROOT), 'shared', 'data',
                                                  'lspet'))
needs_lspet = pytest.mark.skipif(
    not os.path.isfile(os.path.join(LSPET, 'joints.mat')),
    reason=f'LSPET is not at {LSPET} (set LSPET_ROOT to its folder: joints.mat, images/)')


def pytest_configure(config) -> None:
    for line in filter_lines():
        config.addinivalue_line('filterwarnings', line)


# -- runner configs ---------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port that is free now, picked by the OS, for a process group's master: tests that
    run at the same time (``pytest -n``) never share one."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def toy_runner_cfg(work_dir, optim='AUSAMOptimWrapper', ratio=0.5, epochs=3, iters=None, n=32,
                   batch_size=8, score='ausam', num_workers=0, persistent_workers=False,
                   sampler=None, train_cfg=None, checkpoint_interval=1, **kwargs):
    """A complete Runner config (a dict) for ToyConvNet on ToyImageDataset: ``epochs`` epochs,
    or ``iters`` iterations, a checkpoint every ``checkpoint_interval`` of them. An AUSAM
    wrapper gets the rest of AUSAM from ``to_ausam``, as ``--ausam`` gives it (1 warm-up
    epoch; with ``score='ausam'`` a ramp of 1 epoch); ``kwargs`` then replace top-level keys."""
    checkpoint = dict(type='CheckpointHook', interval=checkpoint_interval)
    if iters is not None:
        checkpoint['by_epoch'] = False
        train_cfg = train_cfg or dict(by_epoch=False, max_iters=iters)
    cfg = Config(dict(
        model=dict(type='ToyConvNet'),
        work_dir=str(work_dir),
        experiment_name=f'test_{uuid.uuid4().hex[:8]}',
        train_dataloader=dict(
            batch_size=batch_size, num_workers=num_workers,
            persistent_workers=persistent_workers,
            sampler=sampler or dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='IndexedDataset', dataset=dict(type='ToyImageDataset', n=n)),
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=train_cfg or dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=dict(type=optim, optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(checkpoint=checkpoint, logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[],
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING'))
    if optim != 'OptimWrapper':
        cfg.optim_wrapper.rho = 0.1
    if optim.startswith(('AUSAM', 'AmpAUSAM')):
        options = dict(ratio=ratio, warmup_epochs=1, score=score)
        if score == 'ausam':
            options.update(f_min=0.1, f_max=0.5, ramp_epochs=1)
        to_ausam(cfg, **options)
    cfg = cfg.to_dict()
    cfg.update(kwargs)
    return cfg


def pose_runner_cfg(work_dir, model, dataset, optim='AUSAMOptimWrapper', batch_size=8, epochs=2,
                    **kwargs):
    """A complete MMPose Runner config (a Config, default_scope='mmpose') with ausam_mm's
    wrappers; an AUSAM one is completed by ``to_ausam`` after ``kwargs`` (1 warm-up epoch, a
    ramp of 1 epoch; the model's losses made per-sample, AUSAMHook after the given hooks)."""
    cfg = dict(
        default_scope='mmpose', model=model, work_dir=str(work_dir),
        experiment_name=f'pose_{uuid.uuid4().hex[:8]}',
        train_dataloader=dict(batch_size=batch_size, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              dataset=dict(type='IndexedDataset', dataset=dataset)),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=dict(type=optim, optimizer=dict(type='Adam', lr=1e-3), rho=0.05),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0), env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING')
    cfg = Config(dict(cfg, **kwargs))
    if 'AUSAM' in optim:
        to_ausam(cfg, ratio=0.5, warmup_epochs=1, ramp_epochs=1)
    return cfg


def write_cfg(tmp_path, **kwargs):
    """``toy_runner_cfg`` written as a config file for ``tools/train.py``; returns its path."""
    cfg = toy_runner_cfg(tmp_path / 'unused', custom_imports=dict(imports=['toy']), **kwargs)
    cfg.pop('experiment_name')  # each run names its own
    path = str(tmp_path / 'toy_cfg.py')
    Config(cfg).dump(path)
    return path


# -- samplers ---------------------------------------------------------------------------------

def ausam_sampler(n=20, batch_size=8, shuffle=True, **options):
    """An AUSAMBatchSampler over ``n`` toy samples, with its own MessageHub, linked as AUSAMHook
    links it (the test posts the scores itself)."""
    MessageHub.get_instance(f'sampler_{uuid.uuid4().hex[:8]}')
    dataset = IndexedDataset(ToyImageDataset(n=n))
    sampler = AUSAMBatchSampler(DefaultSampler(dataset, shuffle=shuffle, seed=0), batch_size,
                                **options)
    sampler.link()
    return sampler


# -- runs and their state ---------------------------------------------------------------------

def train(cfg, *hooks):
    """Build a Runner from a config (dict or Config), register ``hooks``, train it."""
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg if isinstance(cfg, Config) else Config(cfg))
    for hook in hooks:
        runner.register_hook(hook)
    runner.train()
    return runner


def straight_and_resumed(make_cfg, work_dir, stop, end):
    """Two runs of the config ``make_cfg(work_dir, length, **keys)``: one straight to ``end``,
    one to ``stop`` that then resumes from its last checkpoint to ``end`` (log_level INFO, so
    that :func:`assert_resumed` can check it). Returns (straight, resumed)."""
    from ausam_mm.engine import resume_checkpoint_path
    straight = train(make_cfg(work_dir / 'straight', end))
    train(make_cfg(work_dir / 'split', stop))
    load_from = resume_checkpoint_path(str(work_dir / 'split'), True)
    resumed = train(make_cfg(work_dir / 'split', end, resume=True, load_from=load_from,
                             log_level='INFO'))
    return straight, resumed


def state(model):
    """A copy of ``model``'s state dict (parameters and buffers)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def params(model):
    """A copy of ``model``'s parameters, by name."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def weights(runner):
    """A copy of the trained model's state dict."""
    return state(runner.model)


def history_of(runner):
    """A copy of the run's score history (the AUSAM wrapper's)."""
    return copy.deepcopy(runner.optim_wrapper.history)


def count_forwards(model):
    """A list that gets the batch size of every forward call of ``model``."""
    calls = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append(len(kwargs['inputs'])), with_kwargs=True)
    return calls


def log_of(runner):
    """The text of the run's log file."""
    with open(runner.logger.log_file) as f:
        return f.read()


def assert_resumed(runner, epoch, iteration):
    """The run did resume (log_level INFO): a fresh run would pass an equality test as well."""
    assert f'resumed epoch: {epoch}, iter: {iteration}' in log_of(runner)


# -- torch.compile ----------------------------------------------------------------------------

class GraphCount(Hook):
    """After every train iteration: the number of graphs Dynamo has compiled so far."""

    def __init__(self) -> None:
        self.graphs = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        from torch._dynamo.utils import counters
        self.graphs.append(counters['stats']['unique_graphs'])

    def compiling_iterations(self):
        """The (0-based) iterations in which Dynamo compiled a graph."""
        return [i for i, n in enumerate(self.graphs) if n > (self.graphs[i - 1] if i else 0)]


@pytest.fixture
def fresh_dynamo():
    """Dynamo's caches and counters empty before and after (other tests compile the same
    model code)."""
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()
    counters.clear()


@pytest.fixture(autouse=True, scope='session')
def one_thread():
    """The suite's models are tiny: one intra-op thread is as fast on an idle 2-core machine
    and far faster on a busy one (oversubscribed threads spin)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def runner_cfg():
    return toy_runner_cfg


def run_train(argv):
    """``tools/train.py`` in process, with a unique experiment name: MMEngine names a run by its
    config file and the second it starts, and runs sharing a name share logger and hub."""
    from ausam_mm.cli.train import main
    return main(argv + ['--cfg-options', f'experiment_name=t{uuid.uuid4().hex[:8]}'])
