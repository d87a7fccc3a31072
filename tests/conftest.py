import os
import sys
import uuid

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))  # tests/toy.py and friends
# albumentations (imported by MMPose's transforms) asks PyPI for a newer version at import, in
# every process: no network calls from the test suite (the train-tool subprocesses inherit it)
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')

import ausam_mm  # noqa: E402,F401  (registers)
from ausam_mm.core.torch_compat import GRAD_SCALER_TORCH  # noqa: E402

#: AMP on the CPU needs torch's device-generic GradScaler (torch >= 2.3); on torch 2.1/2.2 the
#: Amp* wrappers refuse the CPU (tested), so the tests that train with it there are skipped.
needs_cpu_amp = pytest.mark.skipif(
    not hasattr(torch.amp, 'GradScaler'),
    reason=f'AMP on the CPU needs torch >= {GRAD_SCALER_TORCH} (torch.amp.GradScaler); '
           f'this is torch {torch.__version__}')

DATA = os.path.join(os.path.dirname(__file__), 'data')


def toy_runner_cfg(work_dir, optim='AUSAMOptimWrapper', ratio=0.5, epochs=3, n=32,
                   batch_size=8, score='ausam', num_workers=0, persistent_workers=False,
                   sampler=None, train_cfg=None, **kwargs):
    """A complete Runner config for ToyConvNet on ToyImageDataset."""
    dataloader = dict(
        batch_size=batch_size, num_workers=num_workers, persistent_workers=persistent_workers,
        sampler=sampler or dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type='IndexedDataset', dataset=dict(type='ToyImageDataset', n=n)),
        collate_fn=dict(type='pseudo_collate'))
    hooks = []
    if optim.startswith(('AUSAM', 'AmpAUSAM')):
        dataloader['batch_sampler'] = dict(type='AUSAMBatchSampler', ratio=ratio,
                                           warmup_epochs=1, score=score)
        if score == 'ausam':
            dataloader['batch_sampler'].update(f_min=0.1, f_max=0.5, ramp_epochs=1)
        hooks = [dict(type='AUSAMHook')]
    cfg = dict(
        model=dict(type='ToyConvNet'),
        work_dir=str(work_dir),
        experiment_name=f'test_{uuid.uuid4().hex[:8]}',
        train_dataloader=dataloader,
        train_cfg=train_cfg or dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=dict(type=optim, optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
                           rho=0.1),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=hooks,
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING')
    if optim == 'OptimWrapper':
        cfg['optim_wrapper'].pop('rho')
    cfg.update(kwargs)
    return cfg


def train(cfg, *hooks):
    """Build a Runner from a config (dict or Config), register ``hooks``, train it."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg if isinstance(cfg, Config) else Config(cfg))
    for hook in hooks:
        runner.register_hook(hook)
    runner.train()
    return runner


def weights(runner):
    """A copy of the trained model's state dict."""
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def log_of(runner):
    """The text of the run's log file."""
    with open(runner.logger.log_file) as f:
        return f.read()


def assert_resumed(runner, epoch, iteration):
    """The run did resume (log_level INFO): a fresh run would pass an equality test as well."""
    assert f'resumed epoch: {epoch}, iter: {iteration}' in log_of(runner)


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
