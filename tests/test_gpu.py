"""CUDA-only: the fp16 loss-scaler path of AmpSAMOptimWrapper / AmpAUSAMOptimWrapper, and the
speed benchmark's memory columns.

On CUDA, fp16 autocast really overflows and ``GradScaler`` really skips steps, which the CPU
suite cannot show. Tiny real Runner runs (ToyConvNet, a few iterations); ``dev/gpu_check.sh``
runs this file with ``pytest -m gpu``.
"""
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from ausam_mm.engine import resume_checkpoint_path
import toy  # noqa: F401  (registers ToyConvNet, ToyImageDataset)
from conftest import toy_runner_cfg, train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')]

AMP_WRAPPERS = ('AmpSAMOptimWrapper', 'AmpAUSAMOptimWrapper')


class ScalerProbe(Hook):
    """Records the loss scaler's state before training (after resume) and each step's scale."""

    def before_train(self, runner) -> None:
        self.start = runner.optim_wrapper.loss_scaler.state_dict()
        self.scales = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.scales.append(runner.optim_wrapper.loss_scaler.get_scale())


def fp16_cfg(work_dir, optim, epochs, loss_scale='dynamic', **kwargs):
    cfg = toy_runner_cfg(work_dir, optim=optim, epochs=epochs, n=64, batch_size=16, **kwargs)
    cfg['optim_wrapper'].update(dtype='float16', loss_scale=loss_scale)
    return Config(cfg)


def losses(runner):
    return runner.message_hub.get_scalar('train/loss').data[0].tolist()


@pytest.mark.parametrize('optim', AMP_WRAPPERS)
def test_fp16_training_on_cuda_is_finite_and_learns(tmp_path, optim):
    probe = ScalerProbe()
    runner = train(fp16_cfg(tmp_path, optim, epochs=6), probe)
    assert next(runner.model.parameters()).is_cuda
    assert runner.optim_wrapper.cast_dtype == torch.float16
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    loss = losses(runner)
    assert sum(loss[-4:]) / 4 < sum(loss[:4]) / 4  # last epoch below the first
    assert probe.scales[-1] > 1  # fp16 really scales the loss


@pytest.mark.parametrize('optim', AMP_WRAPPERS)
def test_overflowing_scale_backs_off_and_skips_steps_without_corrupting_weights(tmp_path,
                                                                                optim):
    probe = ScalerProbe()
    cfg = fp16_cfg(tmp_path, optim, epochs=2, loss_scale=dict(init_scale=2.0 ** 40))
    runner = train(cfg, probe)
    assert probe.scales[0] < 2.0 ** 40  # the first step overflowed in fp16 and halved it
    assert all(b <= a for a, b in zip(probe.scales, probe.scales[1:3]))
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())


@pytest.mark.parametrize('optim', AMP_WRAPPERS)
def test_scaler_state_round_trips_through_checkpoint_and_resume(tmp_path, optim):
    first = train(fp16_cfg(tmp_path, optim, epochs=2))
    saved = first.optim_wrapper.loss_scaler.state_dict()
    checkpoint = torch.load(tmp_path / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert checkpoint['optimizer']['loss_scaler'] == saved
    if optim.startswith('AmpAUSAM'):
        assert checkpoint['ausam']['history']['count'].sum() > 0

    probe = ScalerProbe()
    cfg = fp16_cfg(tmp_path, optim, epochs=3)
    cfg.resume, cfg.load_from = True, resume_checkpoint_path(str(tmp_path), True)
    resumed = train(cfg, probe)
    assert probe.start == saved  # the scale and growth tracker come back exactly
    assert resumed.iter == 3 * 4
    if optim.startswith('AmpAUSAM'):
        history = resumed.optim_wrapper.history
        assert history.count.sum() > checkpoint['ausam']['history']['count'].sum()


def test_speed_benchmark_measures_each_variants_memory_on_cuda(tmp_path):
    """The speed table's memory columns: the peak counter is reset per variant (AUSAM(0.5) after
    SAM peaks lower than SAM), and AUSAM(0.5), which loads and forwards half the batch, adds
    less to what its run holds than the base optimizer's step does."""
    from benchmarks.speed import run_speed_benchmark
    from benchmarks.synthetic import small_convnet_config, write_class_images
    write_class_images(str(tmp_path / 'images'), n=256)
    report = run_speed_benchmark(small_convnet_config(str(tmp_path / 'images'), batch_size=64),
                                 ['base', 'sam', 'ausam_0.5'], iters=4, skip=2, rounds=1,
                                 work_dir=str(tmp_path / 'speed'))
    results = report['results']
    for name, r in results.items():
        assert 0 < r['step_mem_mb'] < r['peak_mem_mb'], (name, r)
    assert results['ausam_0.5']['peak_mem_mb'] < results['sam']['peak_mem_mb']
    assert results['ausam_0.5']['step_mem_mb'] < results['base']['step_mem_mb']
