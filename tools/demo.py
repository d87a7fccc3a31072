"""`make demo`: a small pose model trained with the base optimizer, SAM and AUSAM, side by side.

``configs/demo/tiny_pose_coco.py`` trains three times from the same initial weights (seed 0):
as it is (Adam), with SAM and with AUSAM (ratio 0.5), the rows ``base``, ``sam`` and
``ausam_0.5`` of ``ausam_mm/benchmark/variants.py``. Each run goes through ``tools/train.py``'s
own config handling, so it is exactly the ``tools/train.py`` command printed at the end. Each
model is evaluated (COCO keypoint AP) on the images it trained on, the 12 person instances
shipped in ``tests/data/coco``: this demonstrates the mechanism (the model learns; SAM costs
two forward/backward passes per sample, AUSAM one), it is not a benchmark (see
``tools/benchmark_*.py`` and ``docs/benchmarks.md``).

It prints a table (seconds per epoch, passes per sample, final training loss, AP) and the
AUSAM/SAM speed ratio, writes one PNG (loss against wall time; how often AUSAM gave each sample
the SAM step), and prints each run's log, checkpoint and command.

Examples:
    python tools/demo.py                                   # what `make demo` runs
    python tools/demo.py --epochs 3 --work-dir /tmp/demo   # a quick look at the output
"""
import argparse
import contextlib
import io
import os.path as osp
import shlex
import sys
import time
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.runner import find_latest_checkpoint

from ausam_mm.benchmark.plots import plot_demo
from ausam_mm.benchmark.throughput import measure
from ausam_mm.benchmark.variants import VARIANTS, train_args, uses_sampler
from ausam_mm.cli.train import load_config, parse_args

CONFIG = 'configs/demo/tiny_pose_coco.py'
RUNS = ['base', 'sam', 'ausam_0.5']
SETTINGS = dict(rho=0.01)  # the SAM radius of both SAM runs (0.05 kept them at AP ~0 here)


class RunRecorder(Hook):
    """What the demo reports of a run besides its speed: the loss and wall time of every
    iteration, the initial weights, the evaluation metrics and the log file."""

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        self.start = time.perf_counter()
        self.seconds: List[float] = []
        self.losses: List[float] = []
        self.iters_per_epoch = len(runner.train_dataloader)
        self.initial = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
        self.log_file = runner.logger.log_file
        self.metrics: Dict[str, float] = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.seconds.append(time.perf_counter() - self.start)
        self.losses.append(outputs['loss'].item())

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics = dict(metrics or {})


def command(name: str, work_dir: str, epochs: Optional[int]) -> List[str]:
    """The tools/train.py arguments of one run."""
    argv = [CONFIG, '--work-dir', osp.join(work_dir, name), *train_args(name, **SETTINGS)]
    if epochs is not None:
        argv += ['--cfg-options', f'train_cfg.max_epochs={epochs}',
                 f'train_cfg.val_interval={epochs}', f'default_hooks.checkpoint.interval={epochs}']
    return argv


def run(name: str, work_dir: str, epochs: Optional[int], verbose: bool = False) -> Dict:
    """Train one variant through tools/train.py's config handling; what the table needs.
    Unless ``verbose``, MMEngine's console output (it is all in the run's log) is not shown."""
    cfg, _ = load_config(parse_args(command(name, work_dir, epochs)))
    cfg.experiment_name = f'demo_{name}_{time.time_ns()}'  # one process, three runs: own logs
    recorder = RunRecorder()
    console = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with console:  # the run's logger binds its console stream here, at its creation
        # timed after the first epoch: AUSAM's warm-up epoch is full SAM, scoring every sample
        speed = measure(cfg, skip=0, skip_epochs=1, hooks=[recorder])
    batch = cfg.train_dataloader.batch_size
    last_epoch = recorder.losses[-recorder.iters_per_epoch:]
    return dict(
        name=name, speed=speed, recorder=recorder,
        epoch_s=recorder.iters_per_epoch * batch / speed['samples_per_s'],
        epoch_cpu_s=recorder.iters_per_epoch * batch / speed['samples_per_cpu_s'],
        final_loss=sum(last_epoch) / len(last_epoch),
        ap=recorder.metrics.get('coco/AP', float('nan')),
        work_dir=cfg.work_dir, checkpoint=find_latest_checkpoint(cfg.work_dir),
        command=command(name, work_dir, epochs))


def table(results: List[Dict]) -> str:
    lines = [f"{'run':<16} {'s/epoch':>8} {'CPU s/epoch':>12} {'passes/sample':>14} "
             f"{'final loss':>11} {'AP':>6}"]
    for r in results:
        lines.append(f"{VARIANTS[r['name']].label:<16} {r['epoch_s']:>8.2f} "
                     f"{r['epoch_cpu_s']:>12.2f} {r['speed']['passes_per_sample']:>14.2f} "
                     f"{r['final_loss']:>11.2e} {r['ap']:>6.3f}")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='one folder per run in here, and the PNG')
    parser.add_argument('--epochs', type=int, default=None,
                        help=f'override the epochs of {CONFIG} (a quicker, rougher look)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (the model is tiny: one is as fast, and far '
                        'faster when other work shares the cores); 0 keeps torch\'s default')
    parser.add_argument('--verbose', action='store_true',
                        help="show MMEngine's console output of the runs (it is in their logs)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f'[demo] {CONFIG}: {", ".join(VARIANTS[n].label for n in RUNS)}, one after the '
          'other, from the same initial weights. They train AND are evaluated on the 12 person '
          'instances shipped in tests/data/coco: a demonstration of the mechanism, not a '
          'benchmark.', flush=True)
    start = time.perf_counter()
    results = []
    for name in RUNS:
        results.append(run(name, args.work_dir, args.epochs, args.verbose))
        r = results[-1]
        print(f"[demo] {VARIANTS[name].label}: {len(r['recorder'].losses)} iterations in "
              f"{r['recorder'].seconds[-1]:.1f} s, AP {r['ap']:.3f}", flush=True)
    first = results[0]['recorder'].initial
    same_start = all(all(torch.equal(first[k], r['recorder'].initial[k]) for k in first)
                     for r in results[1:])
    if not same_start:  # the comparison would be meaningless
        raise RuntimeError('the runs did not start from the same initial weights')

    sam = next(r for r in results if r['name'] == 'sam')
    ausam = next(r for r in results if uses_sampler(r['name']))
    text = table(results)
    ratio = ausam['epoch_s'] / sam['epoch_s']
    cpu_ratio = ausam['epoch_cpu_s'] / sam['epoch_cpu_s']
    sentence = (f"AUSAM 0.5 took {ratio:.2f}x SAM's time per epoch ({cpu_ratio:.2f}x in CPU "
                'time): it runs the SAM step on the half of each batch it draws, SAM on all of '
                'it.')
    png = plot_demo(
        {r['name']: (r['recorder'].seconds, r['recorder'].losses) for r in results},
        ausam['work_dir'], osp.join(args.work_dir, 'demo.png'))
    python = sys.executable
    if osp.abspath(python).startswith(osp.abspath('.') + osp.sep):
        python = osp.relpath(python)
    print(f'\n{text}\n'
          '(seconds and passes per sample measured after the first epoch, AUSAM\'s full-SAM '
          'warm-up; final loss: mean training loss of the last epoch, AUSAM\'s on the samples it '
          'drew; AP: COCO keypoint AP on the training images)\n'
          f'{sentence}\n'
          f'[demo] all runs started from the same initial weights; '
          f'total {time.perf_counter() - start:.0f} s\n'
          f'[demo] figure: {png}')
    for r in results:
        print(f"[demo] {r['name']}: log {r['recorder'].log_file}\n"
              f"       checkpoint {r['checkpoint']}\n"
              f"       rerun: {python} tools/train.py {shlex.join(r['command'])}")
    return dict(results=results, table=text, sentence=sentence, png=png)


if __name__ == '__main__':
    main()
