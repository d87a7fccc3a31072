"""Throughput of the base optimizer, SAM, AUSAM and random-subset SAM, interleaved in one run.

For one config, every variant (a row of ``ausam_mm/engine/variants.py``) trains through a real
MMEngine Runner (iteration-based, data loading included) and is timed after a few warm-up
iterations; the variants take turns for ``--rounds`` rounds so that machine noise hits them
alike. The samples per second of process CPU time are reported too: on a shared machine they
are far less noisy than wall time. Reported per variant: candidate samples per second
(``batch_size`` x iterations / s: how fast an epoch goes), peak GPU memory, the sample-forwards
per candidate sample counted by a forward hook (``forwards``: base 1, SAM 2, AUSAM 2 x ratio,
SAM every 2 1.5, ESAM 2 + gamma, its ranking forward having no backward) and the analytic cost
in forward + backward passes (``ideal``, :func:`~ausam_mm.engine.variants.ideal_passes`: ESAM
1 + 1/3 + gamma). The table gives ratios to SAM and to the base optimizer (of the medians over
the turns), then each ratio's min / median / max over the turns (a turn's variants ran back to
back, so its ratios pair them off the machine's slow phases). ``--out`` saves JSON, rewritten
after every variant's turn: a long CPU run that is stopped keeps what it measured (``rounds``:
the complete rounds; a variant's ``*_turns`` lists say how many turns it has). ``--iters``
must be a multiple of every variant's ``interval`` (SAM every 2: as many SAM steps as plain
ones are timed); AUSAM's warm-up is off (``warmup_epochs=0``, see below), and the ``--skip``
iterations are never timed.

Without a config it benchmarks a small conv net (mmpretrain ``ResNet_CIFAR``, depth 18, 16
base channels) on generated 40x40 PNG images with a real pipeline (decode, random resized
crop, flip, pack). AUSAM variants run with ``warmup_epochs=0`` (the warm-up epoch is plain SAM
and is not what is measured).

Examples:
    python tools/benchmark_speed.py                                  # small net, CPU
    python tools/benchmark_speed.py CONFIG --batch-size 64 --amp --out results/speed.json
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

import ausam_mm  # noqa: F401
from ausam_mm.engine.convert import to_amp
from ausam_mm.engine.variants import VARIANTS, apply_variant, ideal_passes

DEFAULT_VARIANTS = ['base', 'sam', 'ausam_0.3', 'ausam_0.5', 'ausam_1.0', 'random_0.5',
                    'sam_every_2', 'esam_0.5']


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


def make_demo_images(root: str, n: int = 512, size: int = 40, classes: int = 10) -> None:
    """``n`` PNG images in mmpretrain's CustomDataset folder layout (class_x/xxx.png)."""
    import cv2
    rng = np.random.default_rng(0)
    for i in range(n):
        label = i % classes
        folder = osp.join(root, f'class_{label}')
        os.makedirs(folder, exist_ok=True)
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        img[..., label % 3] = np.clip(img[..., label % 3].astype(int) + 40 * label, 0, 255)
        cv2.imwrite(osp.join(folder, f'{i:05d}.png'), img)


def demo_config(data_root: str, batch_size: int) -> Config:
    """Small conv net on generated images, mmpretrain objects throughout."""
    return Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=16, stem_channels=16,
                          num_stages=4, out_indices=(3,)),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=128,
                      loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            data_preprocessor=dict(num_classes=10, mean=[125.3, 123.0, 113.9],
                                   std=[63.0, 62.1, 66.7], to_rgb=True)),
        train_dataloader=dict(
            batch_size=batch_size, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='CustomDataset', data_root=data_root, pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='RandomResizedCrop', scale=32),
                dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                dict(type='PackInputs')])),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-3)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=10 ** 6)),
        env_cfg=dict(cudnn_benchmark=True),
        log_level='WARNING'))


def variant_config(base: Config, name: str, work_dir: str, iters: int,
                   amp: bool) -> Config:
    cfg = copy.deepcopy(base)
    cfg.work_dir = osp.join(work_dir, name)
    cfg.experiment_name = f'bench_{name}_{time.time_ns()}'
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    # an endless sampler: MMEngine's iteration loop sleeps 2 s whenever a finite sampler's
    # epoch ends (mmengine/runner/loops.py, _InfiniteDataloaderIterator), a loop artefact
    # that would be timed as if it were part of every optimizer's step
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = None
    hooks = cfg.get('default_hooks') or {}
    hooks.update(checkpoint=None, logger=dict(type='LoggerHook', interval=10 ** 6))
    hooks.pop('visualization', None)  # MMPose/mmpretrain's; MMEngine accepts None only for its own
    cfg.default_hooks = hooks
    cfg.custom_hooks = []
    cfg.log_level = 'WARNING'
    apply_variant(cfg, name, warmup_epochs=0, ramp_epochs=0)
    if amp:
        to_amp(cfg)
    return cfg


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


def ratio_table(results: Dict[str, Dict]) -> str:
    sam = results.get('sam', {}).get('samples_per_s')
    base = results.get('base', {}).get('samples_per_s')
    sam_cpu = results.get('sam', {}).get('samples_per_cpu_s')
    lines = [f"{'variant':<12} {'samples/s':>10} {'vs SAM':>7} {'vs base':>8} "
             f"{'forwards':>8} {'ideal':>6} {'peak MB':>8} {'CPU-time vs SAM':>16}"]
    for name, r in results.items():
        mem = f"{r['peak_mem_mb']:.0f}" if r['peak_mem_mb'] is not None else '-'
        lines.append(f"{name:<12} {r['samples_per_s']:>10.1f} "
                     f"{r['samples_per_s'] / sam if sam else float('nan'):>7.3f} "
                     f"{r['samples_per_s'] / base if base else float('nan'):>8.3f} "
                     f"{r['passes_per_sample']:>8.2f} {ideal_passes(name):>6.2f} {mem:>8} "
                     f"{r['samples_per_cpu_s'] / sam_cpu if sam_cpu else float('nan'):>16.3f}")
    return '\n'.join(lines)


def turn_ratios(results: Dict[str, Dict]) -> Dict[str, Dict[str, List[float]]]:
    """Each turn's ratio to SAM and to the base optimizer, in wall and in CPU time: the
    variants of one turn ran back to back, so these pair off the machine's slow phases."""
    spread = {}
    for ref in ('sam', 'base'):
        if ref not in results:
            continue
        for name, r in results.items():
            for clock, key in (('wall', 'samples_per_s_turns'), ('cpu', 'samples_per_cpu_s_turns')):
                spread.setdefault(name, {})[f'{clock}_vs_{ref}'] = [
                    mine / theirs for mine, theirs in zip(r[key], results[ref][key])]
    return spread


def spread_table(spread: Dict[str, Dict[str, List[float]]]) -> str:
    """min / median / max over the turns of each ratio."""
    keys = sorted({k for ratios in spread.values() for k in ratios})
    lines = [f"{'variant':<12} " + ' '.join(f'{k + " min/med/max":>24}' for k in keys)]
    for name, ratios in spread.items():
        cells = []
        for k in keys:
            v = ratios.get(k)
            cells.append(f'{min(v):>7.3f} {statistics.median(v):>7.3f} {max(v):>7.3f}  '
                         if v else f"{'-':>24}")
        lines.append(f'{name:<12} ' + ' '.join(cells))
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='MMEngine config; default: small conv net')
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS), help='rows of ausam_mm/engine/variants.py')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--iters', type=int, default=12, help='timed iterations per turn')
    parser.add_argument('--skip', type=int, default=3, help='untimed warm-up iterations')
    parser.add_argument('--rounds', type=int, default=3, help='turns of each variant')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (key=value)')
    args = parser.parse_args(argv)
    for name in args.variants:  # SAM every k: the timed steps must hold whole cycles of k
        interval = VARIANTS[name].options.get('interval', 1)
        if args.iters % interval:
            parser.error(f'--iters must be a multiple of the interval of every variant: '
                         f'{name!r} has interval={interval}, got --iters {args.iters}; use '
                         f'--iters {args.iters + interval - args.iters % interval}')
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        if args.config:
            base = Config.fromfile(args.config)
            base.train_dataloader.batch_size = args.batch_size
        else:
            make_demo_images(osp.join(tmp, 'images'))
            base = demo_config(osp.join(tmp, 'images'), args.batch_size)
        if args.cfg_options:
            base.merge_from_dict(args.cfg_options)
        runs: Dict[str, List[Dict]] = {name: [] for name in args.variants}
        for turn in range(args.rounds):
            for name in args.variants:
                cfg = variant_config(base, name, tmp, args.skip + args.iters, args.amp)
                runs[name].append(measure(cfg, args.skip))
                print(f'round {turn + 1}/{args.rounds} {name:<12} '
                      f"{runs[name][-1]['samples_per_s']:.1f} samples/s", flush=True)
                # what is measured so far is kept should the run be stopped (a long CPU run
                # of a large model): the rounds done, and the variants of the round under way
                report = summarise(args, {k: v for k, v in runs.items() if v},
                                   min(len(v) for v in runs.values()))
                if args.out:
                    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
                    with open(args.out, 'w') as f:
                        json.dump(report, f, indent=2)
    print(report['table'])
    if report['turn_ratios']:
        print(spread_table(report['turn_ratios']))
    return report


def summarise(args: argparse.Namespace, runs: Dict[str, List[Dict]], rounds: int) -> Dict:
    """The report of the turns in ``runs`` (``rounds`` of them complete): medians over the
    turns, each turn's figures and its paired ratios, the table."""
    results = {}
    for name, turns in runs.items():
        results[name] = dict(
            samples_per_s=statistics.median(t['samples_per_s'] for t in turns),
            samples_per_s_turns=[t['samples_per_s'] for t in turns],
            samples_per_cpu_s=statistics.median(t['samples_per_cpu_s'] for t in turns),
            samples_per_cpu_s_turns=[t['samples_per_cpu_s'] for t in turns],
            passes_per_sample=turns[-1]['passes_per_sample'],
            peak_mem_mb=max((t['peak_mem_mb'] or 0) for t in turns) or None)
    return dict(
        config=args.config or 'builtin: ResNet_CIFAR-18 (16 base channels), 32x32 crops',
        batch_size=args.batch_size, iters=args.iters, skip=args.skip, rounds=rounds,
        rounds_asked=args.rounds, amp=args.amp,
        device=(torch.cuda.get_device_name() if torch.cuda.is_available()
                else f'CPU ({platform.processor() or platform.machine()}, '
                     f'{torch.get_num_threads()} threads)'),
        torch=torch.__version__, results=results, table=ratio_table(results),
        turn_ratios=turn_ratios(results))


if __name__ == '__main__':
    main()
