"""The speed of one training run: :class:`ThroughputHook` times the iterations after a warm-up
and counts the samples forwarded in training mode; :func:`measure` trains a config with it.

Usage::

    from benchmarks.throughput import measure
    speed = measure(cfg, skip=3)   # samples_per_s, samples_per_cpu_s, passes_per_sample, ...
"""
import gc
import time
from typing import Dict, List, Sequence

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch._dynamo.utils import counters


class ThroughputHook(Hook):
    """Times iterations after ``skip`` warm-up ones (at least ``skip_epochs`` epochs' worth),
    counts the samples forwarded in training mode (evaluation forwards are not counted) and, on
    CUDA, records the memory the run holds between timed steps (``held``: weights, optimizer
    state and whatever else outlives a step). Under ``compile=True`` it also counts the graphs
    Dynamo compiles while timing (its counting hook runs eagerly: traced, it would recompile
    the forward at every count)."""

    priority = 'VERY_LOW'

    def __init__(self, skip: int, skip_epochs: int = 0) -> None:
        self.skip = skip
        self.skip_epochs = skip_epochs
        self.stamps: List[float] = []
        self.cpu_stamps: List[float] = []  # process CPU time: robust to other load
        self.forwarded = 0
        self.counting = False
        self.held = 0
        self.graphs: List[int] = []  # graphs compiled so far, at each time stamp

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        if self.skip_epochs:
            self.skip = max(self.skip, self.skip_epochs * len(runner.train_dataloader))
        model.register_forward_pre_hook(self.count, with_kwargs=True)

    @torch.compiler.disable
    def count(self, module, args, kwargs) -> None:
        if self.counting and module.training:
            inputs = kwargs.get('inputs', args[0] if args else None)
            self.forwarded += len(inputs)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.counting and torch.cuda.is_available():
            self.held = max(self.held, torch.cuda.memory_allocated())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if runner.iter + 1 >= self.skip:
            self.stamps.append(time.perf_counter())
            self.cpu_stamps.append(time.process_time())
            self.graphs.append(compiled_graphs())
            self.counting = True


class PassCounter(Hook):
    """Counts the samples the model forwards in training mode (SAM's second pass included)
    from epoch ``from_epoch`` on (0: the whole training)."""

    def __init__(self, from_epoch: int = 0) -> None:
        self.from_epoch = from_epoch
        self.forwarded = 0
        self.counting = False

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        model.register_forward_pre_hook(self.count, with_kwargs=True)

    def before_train_epoch(self, runner) -> None:
        self.counting = runner.epoch >= self.from_epoch

    def count(self, module, args, kwargs) -> None:
        if self.counting and module.training:
            self.forwarded += len(kwargs.get('inputs', args[0] if args else ()))


class StepTimes(Hook):
    """The process CPU time of each training iteration (data loading and the step, from one
    ``after_train_iter`` to the next) after the first ``skip_epochs`` epochs: per-step costs
    whose median and spread a rerun or another machine reproduces better than a total."""

    priority = 'VERY_LOW'

    def __init__(self, skip_epochs: int = 1) -> None:
        self.skip_epochs = skip_epochs
        self.times: List[float] = []
        self._last = None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        now = time.process_time()
        if self._last is not None and runner.epoch >= self.skip_epochs and batch_idx > 0:
            self.times.append(now - self._last)
        self._last = now

    def summary(self) -> Dict[str, float]:
        """Median, 25th and 75th percentile of the step times, in seconds."""
        import numpy as np
        if not self.times:
            raise RuntimeError('no step was timed: train for more than the skipped epochs')
        p25, median, p75 = np.percentile(self.times, [25, 50, 75])
        return dict(median=float(median), p25=float(p25), p75=float(p75), steps=len(self.times))


def compiled_graphs() -> int:
    """How many graphs Dynamo has compiled in this process so far."""
    return counters['stats']['unique_graphs']


def measure(cfg: Config, skip: int, skip_epochs: int = 0, hooks: Sequence[Hook] = ()) -> Dict:
    """Train ``cfg`` once; throughput and passes per sample after the skipped iterations, and
    on CUDA the run's peak memory (``peak_mem_mb``: its model, optimizer state and steps; the
    peak counter is reset first) and what one step adds at its peak to what the run holds
    between steps (``step_mem_mb``: activations, gradients, SAM's perturbation), both None on
    the CPU. ``hooks`` are registered too (e.g. to record what else a caller reports)."""
    hook = ThroughputHook(skip, skip_epochs)
    cuda = torch.cuda.is_available()
    if cuda:  # the previous run's Runner is a reference cycle (its loops point back to it)
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(hook)
    for extra in hooks:
        runner.register_hook(extra)
    runner.train()
    seconds = hook.stamps[-1] - hook.stamps[0]
    iters = len(hook.stamps) - 1
    batch = cfg.train_dataloader.batch_size
    cpu_seconds = hook.cpu_stamps[-1] - hook.cpu_stamps[0]
    peak = torch.cuda.max_memory_allocated() if cuda else None
    return dict(samples_per_s=batch * iters / seconds,
                samples_per_cpu_s=batch * iters / cpu_seconds,
                passes_per_sample=hook.forwarded / (batch * iters),
                graphs_compiled_while_timed=hook.graphs[-1] - hook.graphs[0],
                peak_mem_mb=(peak - before) / 2 ** 20 if cuda else None,
                step_mem_mb=(peak - hook.held) / 2 ** 20 if cuda else None)
