"""The figures of the benchmarks and of one AUSAM run (PNG files, matplotlib), drawn by
``benchmarks/plots.py`` and ``benchmarks/demo.py``.

- :func:`plot_accuracy_cost`: test accuracy against the training cost relative to the base
  optimizer, one panel per label-noise study and level;
- :func:`plot_speed_accuracy`: test accuracy against throughput relative to the base optimizer;
- :func:`plot_selection`: what AUSAM chose in one run (its score history and ``ausam/*``
  scalars);
- :func:`plot_demo`: the demo's runs, score against training cost, one panel per part.

Each figure is a ``matplotlib.figure.Figure`` of its own (no pyplot state, no backend chosen).

Usage::

    from benchmarks.plots import load_json, plot_accuracy_cost
    plot_accuracy_cost([load_json('results/accuracy_digits.json')], 'cost.png')

Command line: ``python -m benchmarks.plots`` (from the repository root).

Figures from the benchmarks and from one AUSAM run (PNG files, matplotlib).

Three subcommands:

- ``accuracy-cost``: test accuracy (mean +- std over seeds) against the training cost relative
  to the base optimizer (per-seed CPU-time ratio of ``runner.train()``, mean +- std; SAM or
  the first variant when the study has no base runs; with ``--cost passes``, the variants'
  analytic forward + backward passes per step, ``benchmarks.variants.ideal_passes``,
  for studies whose runs were timed under different loads), one panel per study and
  label-noise level (``benchmarks/label_noise.py --out`` files), one point per variant; the
  variants of one family at several ratios (``ausam_0.3``, ``ausam_0.5``, ...) are joined by a
  line.
- ``speed-accuracy``: test accuracy (mean +- std over seeds, one panel per label-noise level,
  from ``benchmarks/label_noise.py --out``) against throughput relative to the base optimizer
  (from ``benchmarks/speed.py --out``, wall or ``--clock cpu`` time; without it, from the
  accuracy runs' own training CPU time).
- ``selection``: what AUSAM chose in one run, read from its work dir: the score history in the
  last checkpoint (``checkpoint['ausam']['history']``: per-sample DLP sum ``total`` and ``count``;
  each count is one DLP post, i.e. one selection, the warm-up epoch included) as a histogram of
  selection counts and a scatter of ADLP against count (mislabelled samples marked when the
  run left ``flipped.json``, as ``benchmark_accuracy.py --work-dir`` does), and the ``f_max``
  ramp over iterations from the run's ``vis_data/scalars.json`` (written by MMEngine's
  ``LocalVisBackend``, which receives every logged ``ausam/*`` scalar from ``LoggerHook``).

Examples:
    python -m benchmarks.plots accuracy-cost --accuracy results/accuracy_mnist1d.json \
        --out docs/figures/accuracy_cost_mnist1d.png
    python -m benchmarks.plots speed-accuracy --speed results/speed_cpu.json \
        --accuracy results/accuracy_digits.json --out docs/figures/speed_vs_accuracy.png
    python -m benchmarks.plots selection work_dirs/benchmark_accuracy/ausam_0.5_noise0.3_seed0 \
        --out docs/figures/ausam_selection.png
"""
import argparse
import glob
import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from ausam_mm.compat.checkpoint import load_checkpoint_file
from ausam_mm.engine.resume import resume_checkpoint_path
from ausam_mm.engine.upgrade import ausam_state
from .variants import VARIANTS, ideal_passes


def variant_label(variant: str) -> str:
    return VARIANTS[variant].label if variant in VARIANTS else variant


def variant_color(variant: str) -> Optional[str]:
    return VARIANTS[variant].color if variant in VARIANTS else None


def load_json(path: str) -> Dict:
    with open(path) as f:
        return json.load(f)


# -- speed vs accuracy -----------------------------------------------------------------------

def relative_speed(speed: Optional[Dict], accuracy: Dict, noise: str,
                   clock: str = 'wall') -> Tuple[Dict, str]:
    """Throughput of each variant relative to ``base``, and where it comes from; ``clock='cpu'``
    takes the speed JSON's samples per process CPU second (the robust figure on a shared CPU)."""
    if speed is not None:
        res = speed['results']
        if 'base' not in res:
            raise ValueError('the speed JSON has no "base" variant to compare with; rerun '
                             'benchmark_speed.py with base among --variants')
        if clock not in ('wall', 'cpu'):
            raise ValueError(f"`clock` must be 'wall' or 'cpu', got {clock!r}")
        key = 'samples_per_s' if clock == 'wall' else 'samples_per_cpu_s'
        base = res['base'][key]
        return ({k: v[key] / base for k, v in res.items()},
                f"throughput / base{' (CPU time)' if clock == 'cpu' else ''} "
                f"({speed.get('device', '?')}, batch {speed['batch_size']})")
    rows = accuracy['summary'][noise]
    if 'base' not in rows:
        raise ValueError('the accuracy JSON has no "base" variant; pass --speed instead')
    key = 'cpu_mean_s' if 'cpu_mean_s' in rows['base'] else 'time_mean_s'
    base = rows['base'][key]
    return ({k: base / v[key] for k, v in rows.items()},
            f"base / variant training {'CPU' if key == 'cpu_mean_s' else 'wall'} time "
            '(the digits runs)')


def plot_speed_accuracy(accuracy: Dict, speed: Optional[Dict], out: str,
                        clock: str = 'wall') -> str:
    """One panel per noise level: accuracy (mean +- std) vs relative throughput."""
    levels = list(accuracy['summary'])
    fig, axes = _subplots(1, len(levels), figsize=(5 * len(levels), 4), squeeze=False)
    for ax, noise in zip(axes[0], levels):
        rows = accuracy['summary'][noise]
        x_of, xlabel = relative_speed(speed, accuracy, noise, clock)
        for variant, r in rows.items():
            if variant not in x_of:
                continue
            ax.errorbar(x_of[variant], 100 * r['acc_mean'], yerr=100 * r['acc_std'], fmt='o',
                        capsize=4, color=variant_color(variant),
                        label=variant_label(variant))
        ax.set_title(f"{accuracy.get('dataset', 'digits')}, {100 * float(noise):g}% label noise "
                     f"({rows[next(iter(rows))]['n']} seeds)")
        _accuracy_axes(ax, xlabel, legend_size=8)
    return save(fig, out, 'speed vs accuracy: up and to the right is better')


# -- accuracy vs cost ------------------------------------------------------------------------

def relative_cost(accuracy: Dict, noise: str) -> Tuple[Dict[str, Tuple[float, float]], str]:
    """Per variant: mean and std over seeds of (its training CPU time / the reference's, same
    seed), from the runs at ``noise``; the reference is the base optimizer, else the first of
    SAM and the variants of the study. Returns the costs and the reference's name."""
    runs = [r for r in accuracy['runs'] if f"{r['noise']:g}" == noise]
    names = list(dict.fromkeys(r['variant'] for r in runs))
    ref = next((v for v in ('base', 'sam') if v in names), names[0])
    cpu = {r['seed']: r['train_cpu_s'] for r in runs if r['variant'] == ref}
    cost = {}
    for variant in names:
        ratios = [r['train_cpu_s'] / cpu[r['seed']] for r in runs
                  if r['variant'] == variant and r['seed'] in cpu]
        if ratios:
            cost[variant] = (float(np.mean(ratios)),
                             float(np.std(ratios, ddof=1)) if len(ratios) > 1 else 0.0)
    return cost, ref


def family(variant: str) -> Tuple[str, Optional[float]]:
    """``'ausam_0.5'`` -> ``('ausam', 0.5)``; a variant without a trailing ratio -> (it, None)."""
    head, _, tail = variant.rpartition('_')
    try:
        return head, float(tail)
    except ValueError:
        return variant, None


def passes_cost(accuracy: Dict, noise: str) -> Tuple[Dict[str, Tuple[float, float]], str]:
    """Per variant of the runs at ``noise``: its analytic passes per step (no spread), relative
    to the base optimizer's one pass; the same shape as :func:`relative_cost`."""
    names = dict.fromkeys(r['variant'] for r in accuracy['runs'] if f"{r['noise']:g}" == noise)
    return {v: (ideal_passes(v), 0.0) for v in names}, 'base'


def plot_pose_study(study: Dict, out: str) -> str:
    """The pose study (``python -m benchmarks.pose_study --out``): each variant's held-out
    PCK@0.2 (mean +- std over seeds) against its training CPU time relative to the base
    optimizer's (per seed, then averaged), with the mean-pose floor as a line."""
    fig, ax = _subplots(figsize=(5.2, 4))
    base = {r['seed']: r['train_cpu_s'] for r in study['runs'] if r['variant'] == 'base'}
    for variant, row in study['summary'].items():
        costs = [r['train_cpu_s'] / base[r['seed']] for r in study['runs']
                 if r['variant'] == variant and r['seed'] in base]
        ax.errorbar(np.mean(costs), 100 * row['pck_0_2_mean'], yerr=100 * row['pck_0_2_std'],
                    fmt='o', ms=8, capsize=3, color=variant_color(variant),
                    label=variant_label(variant))
    ax.axhline(100 * study['floor']['pck_0_2'], color='gray', ls=':', label='mean pose (floor)')
    ax.set_xlabel("training CPU time / base optimizer's (same seed)", fontsize=8)
    ax.set_ylabel('held-out PCK@0.2 % (mean +- std over seeds)', fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    seeds = len({r['seed'] for r in study['runs']})
    return save(fig, out, f"LSPET, {study['settings']['train_size']} training / "
                          f"{study['settings']['test_size']} held-out images, {seeds} seeds")


def plot_accuracy_cost(studies: List[Dict], out: str, cost_from: str = 'cpu') -> str:
    """One panel per study and noise level: accuracy vs relative training cost, measured
    (``cost_from='cpu'``) or analytic (``'passes'``)."""
    panels = [(study, noise) for study in studies for noise in study['summary']]
    fig, axes = _subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    for ax, (study, noise) in zip(axes[0], panels):
        rows = study['summary'][noise]
        cost, ref = (relative_cost if cost_from == 'cpu' else passes_cost)(study, noise)
        lines: Dict[str, List[Tuple[float, float, str]]] = {}
        same_x: Dict[float, int] = {}  # analytic costs coincide: dodge the points sideways
        for variant, r in rows.items():
            x, x_std = cost[variant]
            if cost_from == 'passes':
                same_x[x] = same_x.get(x, -1) + 1
                x += 0.015 * same_x[x]
            ax.errorbar(x, 100 * r['acc_mean'], xerr=x_std, yerr=100 * r['acc_std'], fmt='o',
                        capsize=3, color=variant_color(variant), label=variant_label(variant))
            name, ratio = family(variant)
            if ratio is not None:
                lines.setdefault(name, []).append((ratio, x, 100 * r['acc_mean'], variant))
        for points in lines.values():
            if len(points) > 1:
                points.sort()
                ax.plot([p[1] for p in points], [p[2] for p in points], '-', alpha=0.4,
                        color=variant_color(points[-1][3]))
        dataset = study.get('dataset', 'digits')
        seeds = sorted({r['n'] for r in rows.values()})
        seeds_text = f'{seeds[0]}' if len(seeds) == 1 else f'{seeds[0]} to {seeds[-1]}'
        ax.set_title(f"{dataset}, {100 * float(noise):g}% label noise "
                     f"({seeds_text} seeds per variant)", fontsize=10)
        _accuracy_axes(ax, f'training CPU time / {variant_label(ref)} (same seed)'
                       if cost_from == 'cpu' else
                       'forward + backward passes per step (base optimizer: 1)', legend_size=7)
    return save(fig, out, 'accuracy vs cost: up and to the left is better')


# -- one AUSAM run ---------------------------------------------------------------------------

def read_history(work_dir: str) -> Tuple[np.ndarray, np.ndarray]:
    """(ADLP, selection count) per sample from the run's last checkpoint."""
    path = resume_checkpoint_path(work_dir, True)
    if path is None:
        raise FileNotFoundError(f'{work_dir} has no checkpoint (last_checkpoint); run with a '
                                'CheckpointHook to plot its selections')
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    state = ausam_state(checkpoint)
    if state is None:
        raise KeyError(f'{path} holds no AUSAM score history: not an AUSAM run')
    history = state['history']
    total = history['total'].double().numpy()
    count = history['count'].numpy()
    with np.errstate(invalid='ignore', divide='ignore'):
        adlp = total / count if history['beta'] is None else total.copy()
    adlp[count == 0] = np.nan
    return adlp, count


def read_scalars(work_dir: str) -> List[Dict]:
    """Every record of the run's ``*/vis_data/scalars.json`` files, oldest run first."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: configure a '
                                "visualizer with LocalVisBackend (MMEngine's default)")
    records = []
    for path in files:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


def read_flipped(work_dir: str, size: int) -> Optional[np.ndarray]:
    path = osp.join(work_dir, 'flipped.json')
    if not osp.isfile(path):
        return None
    mask = np.zeros(size, dtype=bool)
    mask[load_json(path)['flipped']] = True
    return mask


def plot_selection(work_dir: str, out: str) -> str:
    """Histogram of selection counts, ADLP vs count, and the f_max ramp of one AUSAM run."""
    adlp, count = read_history(work_dir)
    flipped = read_flipped(work_dir, len(count))
    groups = ([('all samples', np.ones(len(count), bool), 'tab:blue')] if flipped is None else
              [('clean label', ~flipped, 'tab:blue'), ('mislabelled', flipped, 'tab:red')])
    fig, (ax1, ax2, ax3) = _subplots(1, 3, figsize=(15, 4))

    bins = np.arange(count.min(), count.max() + 2) - 0.5
    for name, mask, color in groups:
        ax1.hist(count[mask], bins=bins, alpha=0.6, color=color, density=True,
                 label=f'{name} (n={mask.sum()}, mean {count[mask].mean():.1f})')
    ax1.set_xlabel('times selected (DLP posts, warm-up epoch included)')
    ax1.set_ylabel('fraction of samples')
    ax1.legend(fontsize=8)

    for name, mask, color in groups:
        ax2.scatter(adlp[mask], count[mask], s=6, alpha=0.5, color=color, label=name)
    ax2.set_xscale('log')
    ax2.set_xlabel('ADLP (mean |loss change| under the SAM perturbation)')
    ax2.set_ylabel('times selected')
    ax2.legend(fontsize=8)

    records = read_scalars(work_dir)
    ramp = [(r['step'], r['ausam/f_max']) for r in records if 'ausam/f_max' in r]
    if ramp:
        steps, values = zip(*ramp)
        ax3.plot(steps, values, color='tab:red', label='f_max (selection bound)')
    cover = [(r['step'], r['ausam/coverage']) for r in records if 'ausam/coverage' in r]
    if cover:
        steps, values = zip(*cover)
        ax3.plot(steps, values, color='tab:gray', ls='--', label='coverage (scored fraction)')
    ax3.set_xlabel('iteration')
    ax3.set_ylim(0, 1.05)
    ax3.legend(fontsize=8)
    ax3.set_title('ausam/* scalars from vis_data/scalars.json', fontsize=9)
    return save(fig, out, f'AUSAM selections: {osp.basename(osp.normpath(work_dir))}')


# -- the demo: the runs of benchmarks/demo.py --------------------------------------------------

class DemoPanel(NamedTuple):
    """One part of the demo in :func:`plot_demo`: its runs as ``(variant, cost, score)``, the
    cost relative to the base optimizer's, and what the score is."""
    title: str
    points: List[Tuple[str, float, float]]
    score: str


def plot_demo(panels: Sequence[DemoPanel], out: str) -> str:
    """One panel per part of the demo: each run's score (held-out accuracy, or what the panel
    says) against its training cost relative to the base optimizer, one marker per run."""
    fig, axes = _subplots(1, len(panels), figsize=(4.6 * len(panels), 4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for variant, cost, score in panel.points:
            ax.plot(cost, score, 'o', ms=8, color=variant_color(variant),
                    label=variant_label(variant))
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel('training CPU time / base optimizer\'s', fontsize=8)
        ax.set_ylabel(panel.score, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle('score against training cost, one marker per run: up and to the left is '
                 'better', fontsize=10)
    fig.tight_layout()
    return save(fig, out)


def _subplots(*grid: int, figsize: Tuple[float, float], squeeze: bool = True):
    """A figure of its own (no pyplot: no global figure manager, no backend to choose) and its
    axes, as ``pyplot.subplots`` returns them."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, squeeze=squeeze)


def _accuracy_axes(ax, xlabel: str, legend_size: int) -> None:
    """The labels, grid and legend of a panel of test accuracy against ``xlabel``."""
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel('test accuracy % (mean +- std)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)


def save(fig: Figure, out: str, title: Optional[str] = None) -> str:
    """Lay ``fig`` out (under ``title``) and write it to ``out``; returns ``out``."""
    if title is not None:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


# -- command line ---------------------------------------------------------------------------

def main(argv: Optional[List[str]] = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    ac = sub.add_parser('accuracy-cost', help='accuracy vs relative training cost')
    ac.add_argument('--accuracy', required=True, nargs='+',
                    help='JSON files of benchmark_accuracy.py --out (one study each)')
    ac.add_argument('--out', required=True, help='PNG file to write')
    ac.add_argument('--cost', choices=['cpu', 'passes'], default='cpu',
                    help="x axis: the runs' CPU time relative to the base optimizer's (same "
                    "seed), or each variant's analytic passes per step")
    sa = sub.add_parser('speed-accuracy', help='accuracy vs relative throughput')
    sa.add_argument('--accuracy', required=True, help='JSON of benchmark_accuracy.py --out')
    sa.add_argument('--speed', help='JSON of benchmark_speed.py --out')
    sa.add_argument('--clock', choices=('wall', 'cpu'), default='wall',
                    help="the speed JSON's wall-time or CPU-time throughput (shared CPU: cpu)")
    sa.add_argument('--out', required=True, help='PNG file to write')
    pose = sub.add_parser('pose', help='the pose study: held-out PCK vs relative training cost')
    pose.add_argument('study', help='JSON of python -m benchmarks.pose_study --out')
    pose.add_argument('--out', required=True, help='PNG file to write')
    sel = sub.add_parser('selection', help="one AUSAM run's selections and f_max ramp")
    sel.add_argument('work_dir', help='the work dir of an AUSAM run (with a checkpoint)')
    sel.add_argument('--out', required=True, help='PNG file to write')
    args = parser.parse_args(argv)
    if args.command == 'accuracy-cost':
        out = plot_accuracy_cost([load_json(p) for p in args.accuracy], args.out, args.cost)
    elif args.command == 'pose':
        out = plot_pose_study(load_json(args.study), args.out)
    elif args.command == 'speed-accuracy':
        speed = load_json(args.speed) if args.speed else None
        out = plot_speed_accuracy(load_json(args.accuracy), speed, args.out, args.clock)
    else:
        out = plot_selection(args.work_dir, args.out)
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
