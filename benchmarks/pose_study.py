"""The held-out pose study: one MMPose top-down model trained on a seeded split of LSPET with
the base optimizer, SAM, AUSAM and random-subset SAM, from the same initial weights per seed,
scored by PCK (torso-normalised, ``TorsoPCKAccuracy``) on held-out images.

LSPET: Leeds Sports Pose Extended (Johnson and Everingham, "Learning Effective Human Pose
Estimation from Inaccurate Annotation", CVPR 2011): real photos of one person each, 14 joints
labelled by crowd workers (noisy labels). Read from ``--data-root`` (default ``data/lspet``,
MMPose's layout: ``joints.mat`` and ``images/``); nothing is copied.

The split: the indexed images in an order drawn with ``split_seed``; the last ``test_size``
are held out, the first ``train_size`` train. ``--tune`` instead carves ``val_size`` images
out of the training images (never the held-out ones), trains on the rest and scores on them:
how the study's rho and epochs were chosen (docs/benchmarks.md).

Per run: held-out PCK@0.2 and PCK@0.1, training CPU and wall time, passes per sample (forward
passes in training mode per training image and epoch); per variant: mean, std, and the paired
differences to SAM, to the base optimizer and (AUSAM) to random-subset SAM at its ratio, with
p-values (:func:`benchmarks.label_noise.summarize`'s rules). The floor: the PCK of the mean
training pose placed in each held-out box. Each finished run is kept in ``--out`` (rewritten
after every run); a rerun with ``--keep-runs`` trains only the runs missing, so a study cut
short resumes. ``--merge`` joins files of parallel processes (other seeds or variants).

Usage::

    python -m benchmarks.pose_study --data-root data/lspet --out results/pose_lspet.json \\
        --keep-runs --seeds 0 1 2
    python -m benchmarks.pose_study --tune --variants base sam --rho 0.005 0.02 --seeds 0
"""
import argparse
import copy
import json
import os.path as osp
import platform
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from ausam_mm.pose.metrics import torso_pck

from .label_noise import mean_std, paired, write_json
from .throughput import PassCounter
from .variants import VARIANTS, apply_variant, ideal_passes, uses_sampler

CONFIG = 'configs/lsp/td-hm_tiny_lspet-128x128.py'
DEFAULT_VARIANTS = ['base', 'sam', 'ausam_0.5', 'random_0.5']
TORSO = (9, 2)  # left shoulder, right hip (ausam_mm/pose/datasets/lsp_info.py)
#: the study's settings (docs/benchmarks.md, "Pose on LSPET", says how they were chosen)
DEFAULTS = dict(epochs=20, batch_size=32, lr=2e-3, rho=0.005, train_size=3000, test_size=1000,
                val_size=500, split_seed=0)


class ValCurve(Hook):
    """The validation metrics after each validation epoch (``--tune``)."""

    def __init__(self) -> None:
        self.points: List[Dict] = []

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.points.append(dict(epoch=runner.epoch, **{k: float(v) for k, v in
                                                       (metrics or {}).items()}))


# -- the split -------------------------------------------------------------------------------

def split(n: int, train_size: int, test_size: int, split_seed: int,
          val_size: int = 0) -> Tuple[List[int], List[int]]:
    """(train, scored) dataset indices of ``n`` images: a ``split_seed`` order; the last
    ``test_size`` are held out and the first ``train_size`` train. With ``val_size``, the
    scored images are the last ``val_size`` of those training images, the rest train."""
    if train_size + test_size > n:
        raise ValueError(f'train_size {train_size} + test_size {test_size} exceed the '
                         f'{n} images indexed; lower them')
    order = np.random.default_rng(split_seed).permutation(n).tolist()
    train, test = order[:train_size], order[n - test_size:]
    if val_size:
        if not 0 < val_size < train_size:
            raise ValueError(f'val_size must be in (0, train_size={train_size}), got {val_size}')
        return train[:-val_size], train[-val_size:]
    return train, test


# -- one run ---------------------------------------------------------------------------------

def run_config(variant: str, seed: int, work_dir: str, settings: Dict, train: List[int],
               scored: List[int], config: str = CONFIG, val_interval: int = 0) -> Config:
    """The Runner config of one run: ``config`` on ``settings['data_root']`` with the split,
    the epochs, batch size, LR and seed of ``settings``, converted to ``variant``."""
    cfg = Config.fromfile(config)
    epochs = settings['epochs']
    for loader, indices in ((cfg.train_dataloader, train), (cfg.test_dataloader, scored)):
        loader.dataset.data_root = settings['data_root']
        loader.dataset.indices = list(indices)
    cfg.train_dataloader.batch_size = settings['batch_size']
    cfg.optim_wrapper.optimizer.lr = settings['lr']
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True,
                                convert_to_iter_based=True)]
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=val_interval or epochs)
    if val_interval:
        cfg.val_dataloader = copy.deepcopy(cfg.test_dataloader)
    else:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{variant}_seed{seed}_{time.time_ns()}'
    cfg.visualizer.name = cfg.experiment_name  # one process, several runs
    cfg.randomness = dict(seed=seed)
    cfg.log_level = 'WARNING'
    apply_variant(cfg, variant, rho=settings['rho'],
                  ramp_epochs=round(0.15 * epochs, 2))
    return cfg


def run_one(cfg: Config, curve: bool = False) -> Dict:
    """Train ``cfg``, then score it on its test split: PCK, time, passes per sample."""
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    counter, val = PassCounter(), ValCurve()
    runner.register_hook(counter)
    if curve:
        runner.register_hook(val)
    start, cpu_start = time.perf_counter(), time.process_time()
    runner.train()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    metrics = runner.test()
    seen = cfg.train_cfg.max_epochs * len(runner.train_dataloader.dataset)
    result = dict(pck_0_2=float(metrics['pck/PCK@0.2']), pck_0_1=float(metrics['pck/PCK@0.1']),
                  n_scored=int(metrics['pck/n_images']), train_time_s=seconds,
                  train_cpu_s=cpu_seconds, passes_per_sample=counter.forwarded / seen)
    if curve:
        result['curve'] = val.points
    return result


# -- the floor -------------------------------------------------------------------------------

def mean_pose_floor(data_root: str, train: Sequence[int], scored: Sequence[int]) -> Dict:
    """PCK of the mean training pose, in box coordinates, placed in each scored image's box."""
    from ausam_mm.pose.datasets import LSPDataset
    dataset = LSPDataset(data_root=data_root, data_mode='topdown', test_mode=True)

    def arrays(indices):
        infos = [dataset.get_data_info(i) for i in indices]
        boxes = np.stack([d['bbox'][0] for d in infos])
        return (boxes, np.stack([d['keypoints'][0] for d in infos]),
                np.stack([d['keypoints_visible'][0] for d in infos]) > 0)

    boxes, points, visible = arrays(train)
    size = (boxes[:, 2:] - boxes[:, :2])[:, None]
    normed = np.where(visible[..., None], (points - boxes[:, None, :2]) / size, 0)
    mean = normed.sum(0) / np.maximum(visible.sum(0), 1)[:, None]
    boxes, points, visible = arrays(scored)
    pred = boxes[:, None, :2] + mean[None] * (boxes[:, 2:] - boxes[:, :2])[:, None]
    pck2, n = torso_pck(pred, points, visible, TORSO, 0.2)
    pck1, _ = torso_pck(pred, points, visible, TORSO, 0.1)
    return dict(pck_0_2=pck2, pck_0_1=pck1, n_scored=n)


# -- summary ---------------------------------------------------------------------------------

def summarize(runs: List[Dict]) -> Dict[str, Dict]:
    """Per variant: mean/std of PCK@0.2, PCK@0.1, CPU time and passes; paired differences of
    PCK@0.2 (and of PCK@0.1) to SAM, the base optimizer and random-subset SAM at its ratio."""
    by: Dict[str, Dict[int, Dict]] = {}
    for r in runs:
        by.setdefault(r['variant'], {})[r['seed']] = r
    random_at = {VARIANTS[v].options.get('ratio'): v for v in by
                 if uses_sampler(v) and VARIANTS[v].options.get('score') == 'uniform'}
    rows = {}
    for variant, seeds in by.items():
        row = dict(n=len(seeds))
        for key in ('pck_0_2', 'pck_0_1', 'train_cpu_s', 'train_time_s', 'passes_per_sample'):
            row[f'{key}_mean'], row[f'{key}_std'] = mean_std(r[key] for r in seeds.values())
        against = ['sam', 'base']
        ratio = VARIANTS[variant].options.get('ratio') if uses_sampler(variant) else None
        if ratio in random_at and random_at[ratio] != variant:
            against.append(random_at[ratio])
        for key in ('pck_0_2', 'pck_0_1'):
            row[f'paired_{key}'] = {
                o: paired({s: r[key] for s, r in seeds.items()},
                          {s: r[key] for s, r in by[o].items()})
                for o in against if o in by and o != variant}
        row['ideal_passes'] = ideal_passes(variant)
        rows[variant] = row
    return rows


def _pair(pair: Optional[Dict]) -> str:
    if not pair:
        return '-'
    p = f"{pair['t_test_p']:.3f}" if pair['t_test_p'] is not None else '-'
    return f"{100 * pair['mean']:+.2f}+-{100 * pair['std']:.2f} ({p})"


def table(summary: Dict[str, Dict], floor: Optional[Dict] = None) -> str:
    """Text table; PCK in %, paired differences of PCK@0.2 in points (mean +- std, t-test p)."""
    lines = [f"{'variant':<12} {'n':>2} {'PCK@0.2 %':>13} {'PCK@0.1 %':>13} "
             f"{'- SAM (pt, p)':>22} {'- base (pt, p)':>22} {'- random (pt, p)':>22} "
             f"{'CPU s':>12} {'passes':>6}"]
    for variant, r in summary.items():
        pairs = r['paired_pck_0_2']
        rnd = next((p for o, p in pairs.items() if o not in ('sam', 'base')), None)
        lines.append(
            f"{variant:<12} {r['n']:>2} "
            f"{100 * r['pck_0_2_mean']:>6.2f}+-{100 * r['pck_0_2_std']:<5.2f}"
            f" {100 * r['pck_0_1_mean']:>6.2f}+-{100 * r['pck_0_1_std']:<5.2f}"
            f" {_pair(pairs.get('sam')):>22} {_pair(pairs.get('base')):>22} {_pair(rnd):>22}"
            f" {r['train_cpu_s_mean']:>6.0f}+-{r['train_cpu_s_std']:<4.0f}"
            f" {r['passes_per_sample_mean']:>6.2f}")
    if floor:
        lines.append(f"{'mean pose':<12} {'':>2} {100 * floor['pck_0_2']:>6.2f}{'':7}"
                     f" {100 * floor['pck_0_1']:>6.2f}   (the mean training pose in each box)")
    return '\n'.join(lines)


# -- the study -------------------------------------------------------------------------------

def study_settings(data_root: str, tune: bool = False, **given) -> Dict:
    """The settings every run of the study shares (what ``--keep-runs`` must match): the
    :data:`DEFAULTS` but those given (not None)."""
    settings = dict(DEFAULTS, **{k: v for k, v in given.items() if v is not None})
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f'unknown study settings {unknown}; known: {sorted(DEFAULTS)}')
    if not tune:
        settings.pop('val_size')
    settings.update(data_root=data_root, tune=tune)
    return settings


def _key(run: Dict) -> Tuple:
    return run['variant'], run['seed'], run.get('rho')


def kept_runs(paths: Sequence[str], settings: Dict) -> Dict[Tuple, Dict]:
    """The runs of earlier ``--out`` files of a study with the same settings (but ``rho``
    and the data root: a tuning file holds several rho)."""
    done: Dict[Tuple, Dict] = {}
    mine = {k: v for k, v in settings.items() if k not in ('rho', 'data_root')}
    for path in paths:
        if not path or not osp.isfile(path):
            continue
        with open(path) as f:
            old = json.load(f)
        theirs = {k: v for k, v in old['settings'].items() if k not in ('rho', 'data_root')}
        if theirs != mine:
            raise ValueError(f'{path} holds a study with settings {theirs}, not {mine}; pass '
                             'another file or drop --keep-runs/--merge')
        for run in old['runs']:
            done.setdefault(_key(run), run)
    return done


def report(settings: Dict, runs: List[Dict], floor: Optional[Dict]) -> Dict:
    summary = {} if settings['tune'] else summarize(runs)
    return dict(
        benchmark='LSPET held-out pose' + (' (tuning on a validation split)'
                                           if settings['tune'] else ''),
        dataset='LSPET (Johnson and Everingham, CVPR 2011)', config=CONFIG, settings=settings,
        device=f'CPU ({platform.processor() or platform.machine()}, '
               f'{torch.get_num_threads()} threads)',
        torch=torch.__version__, floor=floor, runs=runs, summary=summary,
        table=table(summary, floor) if summary else '')


def run_study(settings: Dict, variants: Sequence[str], seeds: Sequence[int],
              rhos: Sequence[float] = (), out: Optional[str] = None,
              done: Optional[Dict[Tuple, Dict]] = None, work_dir: Optional[str] = None,
              val_interval: int = 0) -> Dict:
    """Train every seed x variant (x rho of ``rhos``, tuning) not in ``done``; ``out`` is
    rewritten after every run."""
    from ausam_mm.pose.datasets import LSPDataset
    n = len(LSPDataset(data_root=settings['data_root'], test_mode=True))
    train, scored = split(n, settings['train_size'], settings['test_size'],
                          settings['split_seed'], settings.get('val_size', 0))
    floor = mean_pose_floor(settings['data_root'], train, scored)
    done = dict(done or {})
    runs = list(done.values())
    rhos = list(rhos) or [settings['rho']]
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for variant in variants:
                for rho in (rhos if variant != 'base' else [rhos[0]]):
                    key = (variant, seed, rho if settings['tune'] else None)
                    name = f'{variant}_seed{seed}' + (f'_rho{rho:g}' if settings['tune'] else '')
                    if key in done:
                        print(f'{name:<28} kept', flush=True)
                        continue
                    cfg = run_config(variant, seed, osp.join(work_dir or tmp, name),
                                     dict(settings, rho=rho), train, scored,
                                     val_interval=val_interval)
                    result = dict(variant=variant, seed=seed, **run_one(cfg, val_interval > 0))
                    if settings['tune']:
                        result['rho'] = rho
                    runs.append(result)
                    if out:
                        write_json(out, report(settings, runs, floor))
                    print(f"{name:<28} PCK@0.2 {100 * result['pck_0_2']:6.2f} %  PCK@0.1 "
                          f"{100 * result['pck_0_1']:6.2f} %  {result['train_cpu_s']:6.0f} CPU s "
                          f"{result['passes_per_sample']:.2f} passes", flush=True)
    final = report(settings, runs, floor)
    if out:
        write_json(out, final)
    return final


# -- command line ----------------------------------------------------------------------------

def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/lspet',
                        help='the LSPET folder (joints.mat, images/)')
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int)
    parser.add_argument('--batch-size', type=int)
    parser.add_argument('--lr', type=float)
    parser.add_argument('--rho', type=float, nargs='+',
                        help='SAM radius of every SAM variant; --tune: the values to try')
    parser.add_argument('--train-size', type=int)
    parser.add_argument('--test-size', type=int)
    parser.add_argument('--split-seed', type=int)
    parser.add_argument('--tune', action='store_true',
                        help='score on a validation split carved out of the training images')
    parser.add_argument('--val-size', type=int, help='--tune: images of the validation split')
    parser.add_argument('--val-interval', type=int, default=0,
                        help='--tune: also score every this many epochs (the curve)')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--out', help='JSON, rewritten after every run')
    parser.add_argument('--keep-runs', action='store_true',
                        help="reuse the runs of --out (a study cut short resumes)")
    parser.add_argument('--merge', nargs='+', default=[], metavar='JSON',
                        help='also reuse the runs of these files of the same study')
    parser.add_argument('--work-dir', help='keep every run here (default: a temporary folder)')
    args = parser.parse_args(argv)
    if args.rho and len(args.rho) > 1 and not args.tune:
        parser.error('several --rho values are for --tune; the study takes one')
    if args.threads:
        torch.set_num_threads(args.threads)
    import ausam_mm  # noqa: F401  (registers LSPDataset, the metric, the wrappers)
    settings = study_settings(args.data_root, args.tune, epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr,
                              rho=args.rho[0] if args.rho and not args.tune else None,
                              train_size=args.train_size, test_size=args.test_size,
                              split_seed=args.split_seed, val_size=args.val_size)
    done = kept_runs(([args.out] if args.keep_runs else []) + args.merge, settings)
    result = run_study(settings, args.variants, args.seeds,
                       args.rho if args.tune and args.rho else (), args.out, done,
                       args.work_dir, args.val_interval)
    print(result['table'] or json.dumps([{k: r[k] for k in ('variant', 'seed', 'rho', 'pck_0_2')}
                                         for r in result['runs']], indent=1))
    return result


if __name__ == '__main__':
    main()
