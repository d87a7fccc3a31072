"""The speed of one training run: :class:`ThroughputHook` times the iterations after a warm-up
and counts the samples forwarded in training mode; :func:`measure` trains a config with it.

Usage::

    from ausam_mm.benchmark.throughput import measure
    speed = measure(cfg, skip=3)   # samples_per_s, samples_per_cpu_s, passes_per_sample, ...
"""
import time
from typing import Dict, List, Sequence

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner


class ThroughputHook(Hook):
    """Times iterations after ``skip`` warm-up ones (at least ``skip_epochs`` epochs' worth) and
    counts the samples forwarded in training mode (evaluation forwards are not counted)."""

    priority = 'VERY_LOW'

    def __init__(self, skip: int, skip_epochs: int = 0) -> None:
        self.skip = skip
        self.skip_epochs = skip_epochs
        self.stamps: List[float] = []
        self.cpu_stamps: List[float] = []  # process CPU time: robust to other load
        self.forwarded = 0
        self.counting = False

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        if self.skip_epochs:
            self.skip = max(self.skip, self.skip_epochs * len(runner.train_dataloader))

        def count(module, args, kwargs):
            if self.counting and module.training:
                inputs = kwargs.get('inputs', args[0] if args else None)
                self.forwarded += len(inputs)
        model.register_forward_pre_hook(count, with_kwargs=True)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if runner.iter + 1 >= self.skip:
            self.stamps.append(time.perf_counter())
            self.cpu_stamps.append(time.process_time())
            self.counting = True


def measure(cfg: Config, skip: int, skip_epochs: int = 0, hooks: Sequence[Hook] = ()) -> Dict:
    """Train ``cfg`` once; throughput and passes per sample after the skipped iterations.
    ``hooks`` are registered too (e.g. to record what else a caller reports of the run)."""
    hook = ThroughputHook(skip, skip_epochs)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(hook)
    for extra in hooks:
        runner.register_hook(extra)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    runner.train()
    seconds = hook.stamps[-1] - hook.stamps[0]
    iters = len(hook.stamps) - 1
    batch = cfg.train_dataloader.batch_size
    cpu_seconds = hook.cpu_stamps[-1] - hook.cpu_stamps[0]
    return dict(samples_per_s=batch * iters / seconds,
                samples_per_cpu_s=batch * iters / cpu_seconds,
                passes_per_sample=hook.forwarded / (batch * iters),
                peak_mem_mb=(torch.cuda.max_memory_allocated() / 2 ** 20
                             if torch.cuda.is_available() else None))
