"""Test accuracy under label noise: base optimizer, SAM, AUSAM and random-subset SAM on digits.

A real-data study the CPU finishes in minutes. scikit-learn's digits (1,797 real 8x8 scans of
handwritten digits) are split once into train and test (stratified, fixed seed); the training
labels get 0 % and 30 % symmetric noise (exactly that fraction of training samples gets a label
drawn uniformly from the *other* classes; the test labels stay clean). A small CNN, an
mmpretrain ``ImageClassifier``, trains through a real MMEngine ``Runner`` for every variant x
noise level x seed, with the same epochs, batch size, SGD (momentum, cosine LR per iteration)
and initial weights; the variants (rows of ``ausam_mm/engine/variants.py``, applied with its
``apply_variant``: ``rho`` for all, ``ramp_epochs`` for the AUSAM ones) differ only by
``ausam_mm.engine.convert.to_sam`` / ``to_ausam``:

- ``base``: the plain ``OptimWrapper``;
- ``sam``: ``SAMOptimWrapper`` on every sample;
- ``ausam_0.5``: ``AUSAMOptimWrapper`` + ``AUSAMBatchSampler(ratio=0.5)`` (the paper's scores);
- ``random_0.5``: the same with ``score='uniform'`` (random-subset SAM, the ablation).

Reported per variant and noise level: mean +- std (over seeds) of the final test accuracy, of
the training wall time (``runner.train()``) and of its CPU time (the process's own, which other
users of a shared machine disturb less than the wall time), the per-seed difference to SAM,
and, under noise, the fraction of mislabelled training samples the model fits to their wrong
label (memorisation, which SAM is known to resist). ``--out`` saves JSON; ``--work-dir`` keeps
every run's logs (``vis_data/scalars.json`` carries the ``ausam/*`` scalars) and, for the AUSAM
and random-subset runs, the last checkpoint (with the score history) and ``flipped.json`` (the
mislabelled indices) for ``tools/plot_results.py selection``.

Needs scikit-learn: ``pip install -e .[bench]``.

Examples:
    python tools/benchmark_accuracy.py --out results/accuracy_digits.json
    python tools/benchmark_accuracy.py --seeds 0 --epochs 2 --noise 0.3   # smoke run
"""
import argparse
import copy
import functools
import json
import os
import os.path as osp
import platform
import statistics
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import ausam_mm  # noqa: F401  (registers the wrappers, the sampler, the mmpretrain adapter)
from ausam_mm.engine.variants import VARIANTS, apply_variant, uses_sampler

DEFAULT_VARIANTS = ['base', 'sam', 'ausam_0.5', 'random_0.5', 'sam_every_2', 'esam_0.5']
NUM_CLASSES = 10


# -- data ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def digits_split(test_fraction: float = 0.5,
                 split_seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels): images float32 (N, 1, 8, 8)
    in [0, 1], a stratified split that depends only on ``split_seed``."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:
        raise ImportError('benchmark_accuracy.py needs scikit-learn for its digits data: '
                          "pip install -e '.[bench]' (or pip install scikit-learn)") from e
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target, test_size=test_fraction,
                                              random_state=split_seed, stratify=digits.target)
    return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)


def symmetric_noise(labels: np.ndarray, rate: float, num_classes: int,
                    seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Labels with exactly ``round(rate * N)`` of them changed, each to a class drawn uniformly
    from the ``num_classes - 1`` others. Returns (noisy labels, sorted flipped indices)."""
    if not 0 <= rate < 1:
        raise ValueError(f'label noise rate must be in [0, 1), got {rate}')
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(labels), size=int(round(rate * len(labels))),
                                 replace=False))
    noisy = labels.copy()
    shift = rng.integers(1, num_classes, size=len(flipped))  # never 0: always another class
    noisy[flipped] = (labels[flipped] + shift) % num_classes
    return noisy, flipped


@DATASETS.register_module(force=True)
class DigitsDataset(Dataset):
    """One split of scikit-learn's digits, held in memory, packed for mmpretrain.

    Args:
        split: ``'train'`` or ``'test'``.
        noise: symmetric label noise rate of the train split (the test split stays clean).
        noise_seed: which samples are flipped, and to what.
        test_fraction, split_seed: the train/test split (:func:`digits_split`).

    Examples:
        >>> dataset = dict(type='DigitsDataset', split='train', noise=0.3, noise_seed=0)
    """

    def __init__(self, split: str = 'train', noise: float = 0.0, noise_seed: int = 0,
                 test_fraction: float = 0.5, split_seed: int = 0) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"`split` must be 'train' or 'test', got {split!r}")
        x_tr, y_tr, x_te, y_te = digits_split(test_fraction, split_seed)
        images, self.clean_labels = (x_tr, y_tr) if split == 'train' else (x_te, y_te)
        self.images = torch.from_numpy(images)
        labels, self.flipped = self.clean_labels, np.zeros(0, dtype=np.int64)
        if split == 'train' and noise > 0:
            labels, self.flipped = symmetric_noise(self.clean_labels, noise, NUM_CLASSES,
                                                   noise_seed)
        self.labels = torch.from_numpy(labels)
        self.metainfo = dict(classes=tuple(str(c) for c in range(NUM_CLASSES)))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict:
        from mmpretrain.structures import DataSample
        return dict(inputs=self.images[idx],
                    data_samples=DataSample().set_gt_label(int(self.labels[idx])))


# -- model -----------------------------------------------------------------------------------

def register_backbone():
    from mmpretrain.registry import MODELS

    @MODELS.register_module(force=True)
    class DigitsConvNet(nn.Module):
        """conv-BN-ReLU x2, max-pool, conv-BN-ReLU, flatten: 8x8 digits to a feature vector.

        ``width`` channels, then ``2 width`` twice; the flattened 4x4 map keeps the spatial
        layout (enough capacity to memorise noisy labels, which is what the study needs).
        """

        def __init__(self, width: int = 16) -> None:
            super().__init__()

            def block(cin, cout):
                return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                        nn.ReLU(inplace=True)]
            self.layers = nn.Sequential(*block(1, width), *block(width, 2 * width),
                                        nn.MaxPool2d(2), *block(2 * width, 2 * width),
                                        nn.Flatten())
            self.out_channels = 2 * width * 16

        def forward(self, x):
            return (self.layers(x),)
    return DigitsConvNet


# -- one run ---------------------------------------------------------------------------------

def digits_config(variant: str, noise: float, seed: int, work_dir: str, epochs: int,
                  batch_size: int, lr: float, weight_decay: float, rho: float, width: int,
                  ramp_epochs: float, test_fraction: float, keep_checkpoint: bool,
                  log_interval: int) -> Config:
    """The Runner config of one run; the variant is applied with ``apply_variant``."""
    data = dict(test_fraction=test_fraction, split_seed=0)
    cfg = Config(dict(
        default_scope='mmpretrain',
        work_dir=work_dir,
        experiment_name=f'digits_{variant}_{noise}_{seed}_{time.time_ns()}',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='DigitsConvNet', width=width),
            head=dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=32 * width,
                      loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=NUM_CLASSES)),
        train_dataloader=dict(
            batch_size=batch_size, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type='DigitsDataset', split='train', noise=noise, noise_seed=seed,
                         **data)),
        test_dataloader=dict(
            batch_size=512, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='DigitsDataset', split='test', **data)),
        test_evaluator=dict(type='Accuracy', topk=(1,)),
        test_cfg=dict(),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9,
                                          weight_decay=weight_decay)),
        param_scheduler=[dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True,
                              convert_to_iter_based=True)],
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=log_interval),
            checkpoint=(dict(type='CheckpointHook', interval=epochs) if keep_checkpoint
                        else None)),
        randomness=dict(seed=seed),
        log_level='WARNING'))
    apply_variant(cfg, variant, rho=rho, ramp_epochs=ramp_epochs)
    return cfg


def noisy_label_fit(runner: Runner, dataset: DigitsDataset) -> Optional[float]:
    """Fraction of the flipped training samples predicted as their (wrong) training label."""
    if len(dataset.flipped) == 0:
        return None
    model = runner.model
    model.eval()
    idx = torch.from_numpy(dataset.flipped)
    with torch.no_grad():
        batch = dict(inputs=list(dataset.images[idx]),
                     data_samples=[dataset[int(i)]['data_samples'] for i in idx])
        preds = torch.stack([s.pred_label for s in model.test_step(batch)]).flatten()
    return float((preds == dataset.labels[idx]).float().mean())


def run_one(cfg: Config) -> Dict:
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    start, cpu_start = time.perf_counter(), time.process_time()
    runner.train()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    metrics = runner.test()
    train_set = runner.train_dataloader.dataset
    train_set = getattr(train_set, 'dataset', train_set)  # IndexedDataset's inner dataset
    if len(train_set.flipped) and cfg.default_hooks.get('checkpoint') is not None:
        with open(osp.join(cfg.work_dir, 'flipped.json'), 'w') as f:
            json.dump(dict(flipped=train_set.flipped.tolist(), size=len(train_set)), f)
    return dict(test_acc=float(metrics['accuracy/top1']) / 100, train_time_s=seconds,
                train_cpu_s=cpu_seconds, noisy_fit=noisy_label_fit(runner, train_set))


# -- summary ---------------------------------------------------------------------------------

def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    values = list(values)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(runs: List[Dict]) -> Dict[str, Dict[str, Dict]]:
    """Per noise level and variant: mean/std of accuracy, time, noisy fit; paired gap to SAM."""
    summary: Dict[str, Dict[str, Dict]] = {}
    for noise in sorted({r['noise'] for r in runs}):
        at = [r for r in runs if r['noise'] == noise]
        sam = {r['seed']: r['test_acc'] for r in at if r['variant'] == 'sam'}
        rows = {}
        for variant in dict.fromkeys(r['variant'] for r in at):
            mine = [r for r in at if r['variant'] == variant]
            acc_mean, acc_std = mean_std(r['test_acc'] for r in mine)
            time_mean, time_std = mean_std(r['train_time_s'] for r in mine)
            cpu_mean, cpu_std = mean_std(r['train_cpu_s'] for r in mine)
            row = dict(n=len(mine), acc_mean=acc_mean, acc_std=acc_std, time_mean_s=time_mean,
                       time_std_s=time_std, cpu_mean_s=cpu_mean, cpu_std_s=cpu_std)
            fits = [r['noisy_fit'] for r in mine if r['noisy_fit'] is not None]
            if fits:
                row['noisy_fit_mean'], row['noisy_fit_std'] = mean_std(fits)
            gaps = [r['test_acc'] - sam[r['seed']] for r in mine if r['seed'] in sam]
            if gaps and variant != 'sam':
                row['gap_to_sam_mean'], row['gap_to_sam_std'] = mean_std(gaps)
            rows[variant] = row
        summary[f'{noise:g}'] = rows
    return summary


def table(summary: Dict[str, Dict[str, Dict]]) -> str:
    lines = [f"{'noise':>5} {'variant':<11} {'test acc % (mean +- std)':>24} "
             f"{'- SAM (pt)':>12} {'noisy fit %':>11} {'wall s':>12} {'CPU s':>12}"]
    for noise, rows in summary.items():
        for variant, r in rows.items():
            gap = (f"{100 * r['gap_to_sam_mean']:+.2f}+-{100 * r['gap_to_sam_std']:.2f}"
                   if 'gap_to_sam_mean' in r else '-')
            fit = f"{100 * r['noisy_fit_mean']:.1f}" if 'noisy_fit_mean' in r else '-'
            lines.append(f"{noise:>5} {variant:<11} "
                         f"{100 * r['acc_mean']:>15.2f} +- {100 * r['acc_std']:<5.2f} "
                         f"{gap:>12} {fit:>11} "
                         f"{r['time_mean_s']:>6.1f}+-{r['time_std_s']:<4.1f} "
                         f"{r['cpu_mean_s']:>6.1f}+-{r['cpu_std_s']:<4.1f}")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS), help='rows of ausam_mm/engine/variants.py')
    parser.add_argument('--noise', nargs='+', type=float, default=[0.0, 0.3],
                        help='symmetric label noise rates of the training split')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--lr', type=float, default=0.05)
    parser.add_argument('--weight-decay', type=float, default=5e-4)
    parser.add_argument('--rho', type=float, default=0.1, help='SAM radius (all SAM variants)')
    parser.add_argument('--width', type=int, default=16, help='channels of the first conv')
    parser.add_argument('--ramp-epochs', type=float, default=None,
                        help="AUSAM's f_max ramp; default: 15%% of the epochs (the reference's "
                        '30 of 200)')
    parser.add_argument('--test-fraction', type=float, default=0.5)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (1: on a shared 2-core CPU, 2 threads ran the '
                        'small convs ~6x slower than 1); 0 keeps torch\'s default')
    parser.add_argument('--log-interval', type=int, default=5,
                        help='iterations between logged scalars (text log and vis_data)')
    parser.add_argument('--work-dir', help='keep every run here (logs, scalars, the AUSAM '
                        'checkpoints); default: a temporary folder, deleted')
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ramp = args.ramp_epochs if args.ramp_epochs is not None else round(0.15 * args.epochs, 2)
    register_backbone()
    digits_split(args.test_fraction, 0)  # fail early without scikit-learn

    runs: List[Dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.work_dir or tmp
        for noise in args.noise:
            for seed in args.seeds:
                for variant in args.variants:  # interleaved: machine noise hits all alike
                    name = f'{variant}_noise{noise:g}_seed{seed}'
                    cfg = digits_config(
                        variant, noise, seed, osp.join(root, name), args.epochs,
                        args.batch_size, args.lr, args.weight_decay, args.rho, args.width,
                        ramp, args.test_fraction,
                        keep_checkpoint=bool(args.work_dir) and uses_sampler(variant),
                        log_interval=args.log_interval)
                    result = dict(variant=variant, noise=noise, seed=seed, **run_one(cfg))
                    runs.append(result)
                    print(f"{name:<26} test acc {100 * result['test_acc']:6.2f} %  "
                          f"{result['train_time_s']:6.1f} s wall {result['train_cpu_s']:6.1f} s "
                          'CPU', flush=True)

    summary = summarize(runs)
    text = table(summary)
    print(text)
    report = dict(
        benchmark='digits label noise', variants=args.variants,
        settings=dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      momentum=0.9, weight_decay=args.weight_decay, rho=args.rho,
                      width=args.width, ratio=0.5, ramp_epochs=ramp, warmup_epochs=1,
                      test_fraction=args.test_fraction, noise=args.noise, seeds=args.seeds,
                      train_size=len(digits_split(args.test_fraction, 0)[1]),
                      test_size=len(digits_split(args.test_fraction, 0)[3])),
        device=f'CPU ({platform.processor() or platform.machine()}, '
               f'{torch.get_num_threads()} threads)',
        torch=torch.__version__, runs=runs, summary=summary, table=text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
