"""Test accuracy under label noise: base optimizer, SAM, AUSAM, random-subset SAM, cheap SAMs.

Real-data studies the CPU finishes in minutes, on one of two datasets (``--dataset``):

- ``digits`` (default): scikit-learn's digits, 1,797 real 8x8 scans of handwritten digits,
  split once into train and test (stratified, fixed seed); a small 2D CNN.
- ``mnist1d``: MNIST-1D (Greydanus, "Scaling down deep learning", the ``mnist1d`` package),
  digits drawn as 1D templates and procedurally padded, scaled, translated, sheared and
  noised into length-40 signals; generated offline (the package reports about 32 % for
  logistic regression, 68 % for an MLP and 94 % for a CNN on its default split of 5,000
  samples, 4,000 for training); the study's default: 4,000 samples, the first 2,000 for
  training, batch 32, a 1D CNN of width 32, where SAM beat SGD on clean labels in a screen
  (docs/benchmarks.md, section 6.1, lists the settings tried).

The training labels get symmetric noise (exactly that fraction of training samples gets a
label drawn uniformly from the *other* classes; the test labels stay clean). An mmpretrain
``ImageClassifier`` trains through a real MMEngine ``Runner`` for every variant x noise level x
seed, with the same epochs, batch size, SGD (momentum, cosine LR per iteration) and initial
weights; the variants (rows of ``ausam_mm/engine/variants.py``, applied with its
``apply_variant``: ``rho`` for all, ``ramp_epochs`` for the AUSAM ones) differ only by
``ausam_mm.engine.convert.to_sam`` / ``to_ausam`` / ``to_esam``, e.g.:

- ``base``: the plain ``OptimWrapper``;
- ``sam``: ``SAMOptimWrapper`` on every sample;
- ``ausam_0.5``: ``AUSAMOptimWrapper`` + ``AUSAMBatchSampler(ratio=0.5)`` (the paper's scores);
- ``random_0.5``: the same with ``score='uniform'`` (random-subset SAM, the ablation);
- ``ausam_unbiased_0.5``: AUSAM's draw with importance weights (``importance_weights=True``);
- ``sam_every_2``: SAM on every second step (``interval=2``), the base step between;
- ``esam_0.5``: ``ESAMOptimWrapper(gamma=0.5)``, ESAM's sharpness-sensitive data selection.

Reported per variant and noise level: mean +- std (over seeds) of the final test accuracy, of
the training wall time (``runner.train()``) and of its CPU time (the process's own, which other
users of a shared machine disturb less than the wall time), the per-seed difference to SAM,
and, under noise, the fraction of mislabelled training samples the model fits to their wrong
label (memorisation, which SAM is known to resist). ``--out`` saves JSON; ``--work-dir`` keeps
every run's logs (``vis_data/scalars.json`` carries the ``ausam/*`` scalars) and, for the AUSAM
and random-subset runs, the last checkpoint (with the score history) and ``flipped.json`` (the
mislabelled indices) for ``tools/plot_results.py selection``.

For each subset ratio r run both ways (``ausam*_r`` and ``random_r``) the summary adds the
paired (per-seed) difference to random-subset SAM at the same cost and its significance: a
paired t-test and a Wilcoxon signed-rank test (two-sided; with 5 seeds the Wilcoxon test
cannot go below p = 0.0625).

Every setting has a per-dataset default (:data:`BENCHMARKS`); a flag overrides it for every
variant alike. ``--out`` is rewritten after every run; ``--keep-runs`` reuses the runs an
existing ``--out`` holds for the same dataset and settings (an interrupted study goes on where
it stopped, or another variant joins a finished one) and refuses one made with other settings;
``--merge`` adds the runs of other ``--out`` files of the same study (processes run in parallel
with other ``--seeds``, ``--noise`` or ``--variants``) the same way.

Needs scikit-learn (digits) or mnist1d: ``pip install -e .[bench]``.

Examples:
    python tools/benchmark_accuracy.py --out results/accuracy_digits.json
    python tools/benchmark_accuracy.py --dataset mnist1d --out results/accuracy_mnist1d.json
    python tools/benchmark_accuracy.py --seeds 0 --epochs 2 --noise 0.3   # smoke run
"""
import argparse
import copy
import functools
import json
import os
import os.path as osp
import platform
import random
import statistics
import tempfile
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

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


def mnist1d_split(num_samples: int = 5000, train_split: float = 0.8, data_seed: int = 42
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train signals, train labels, test signals, test labels) of MNIST-1D: signals float32
    (N, 1, 40), generated by ``mnist1d.data.make_dataset`` with the package's default
    arguments but ``num_samples``, ``train_split`` and ``seed`` (the package's defaults: 5,000
    samples, the first 80 % for training, seed 42)."""
    return _mnist1d_split(num_samples, train_split, data_seed)


@functools.lru_cache(maxsize=4)
def _mnist1d_split(num_samples: int, train_split: float, data_seed: int):
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise ImportError('benchmark_accuracy.py --dataset mnist1d needs the mnist1d package: '
                          "pip install -e '.[bench]' (or pip install mnist1d)") from e
    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, train_split, data_seed
    # make_dataset seeds the global numpy and random generators; leave them as they were
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x_tr, x_te = (data[k].astype(np.float32)[:, None] for k in ('x', 'x_test'))
    return x_tr, data['y'].astype(np.int64), x_te, data['y_test'].astype(np.int64)


class NoisyLabelDataset(Dataset):
    """One split held in memory, training labels with symmetric noise, packed for mmpretrain.

    Subclasses give :meth:`split_arrays`; the test split stays clean.
    """

    def __init__(self, split: str, noise: float, noise_seed: int, **split_args) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"`split` must be 'train' or 'test', got {split!r}")
        x_tr, y_tr, x_te, y_te = self.split_arrays(**split_args)
        inputs, self.clean_labels = (x_tr, y_tr) if split == 'train' else (x_te, y_te)
        self.inputs = torch.from_numpy(inputs)
        labels, self.flipped = self.clean_labels, np.zeros(0, dtype=np.int64)
        if split == 'train' and noise > 0:
            labels, self.flipped = symmetric_noise(self.clean_labels, noise, NUM_CLASSES,
                                                   noise_seed)
        self.labels = torch.from_numpy(labels)
        self.metainfo = dict(classes=tuple(str(c) for c in range(NUM_CLASSES)))

    @staticmethod
    def split_arrays(**split_args) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict:
        from mmpretrain.structures import DataSample
        return dict(inputs=self.inputs[idx],
                    data_samples=DataSample().set_gt_label(int(self.labels[idx])))


@DATASETS.register_module(force=True)
class DigitsDataset(NoisyLabelDataset):
    """One split of scikit-learn's digits (8x8 images in [0, 1]).

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
        super().__init__(split, noise, noise_seed, test_fraction=test_fraction,
                         split_seed=split_seed)

    split_arrays = staticmethod(digits_split)


@DATASETS.register_module(force=True)
class Mnist1dDataset(NoisyLabelDataset):
    """One split of MNIST-1D (length-40 signals, zero mean and unit std over the dataset).

    Args:
        split: ``'train'`` or ``'test'``.
        noise: symmetric label noise rate of the train split (the test split stays clean).
        noise_seed: which samples are flipped, and to what.
        num_samples, train_split, data_seed: the generated dataset (:func:`mnist1d_split`).

    Examples:
        >>> dataset = dict(type='Mnist1dDataset', split='train', noise=0.2, noise_seed=0)
    """

    def __init__(self, split: str = 'train', noise: float = 0.0, noise_seed: int = 0,
                 num_samples: int = 5000, train_split: float = 0.8,
                 data_seed: int = 42) -> None:
        super().__init__(split, noise, noise_seed, num_samples=num_samples,
                         train_split=train_split, data_seed=data_seed)

    split_arrays = staticmethod(mnist1d_split)


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

    @MODELS.register_module(force=True)
    class Mnist1dConvNet(nn.Module):
        """conv-BN-ReLU x3 on length-40 signals (stride 2 in the last two), flatten.

        ``width`` channels throughout: 40 -> 20 -> 10 positions, ``10 width`` features, about
        the package's reference CNN (3 convolutions of 25 channels, then a linear layer).
        """

        def __init__(self, width: int = 32) -> None:
            super().__init__()

            def block(cin, cout, kernel, stride):
                return [nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2,
                                  bias=False), nn.BatchNorm1d(cout), nn.ReLU(inplace=True)]
            self.layers = nn.Sequential(*block(1, width, 5, 1), *block(width, width, 3, 2),
                                        *block(width, width, 3, 2), nn.Flatten())
            self.out_channels = 10 * width

        def forward(self, x):
            return (self.layers(x),)


class Benchmark(NamedTuple):
    """A dataset of the study: its registered dataset and backbone, the backbone's feature
    size for a ``width``, and the default settings of the study (every variant shares them)."""
    dataset: str
    backbone: str
    features: Callable[[int], int]
    defaults: Dict


BENCHMARKS: Dict[str, Benchmark] = {
    'digits': Benchmark('DigitsDataset', 'DigitsConvNet', lambda width: 32 * width, dict(
        epochs=30, batch_size=64, lr=0.05, weight_decay=5e-4, rho=0.1, width=16,
        noise=[0.0, 0.3], data=dict(test_fraction=0.5, split_seed=0))),
    'mnist1d': Benchmark('Mnist1dDataset', 'Mnist1dConvNet', lambda width: 10 * width, dict(
        epochs=30, batch_size=32, lr=0.05, weight_decay=5e-4, rho=0.1, width=32,
        noise=[0.0, 0.2], data=dict(num_samples=4000, train_split=0.5, data_seed=42))),
}


# -- one run ---------------------------------------------------------------------------------

def run_config(bench: str, variant: str, noise: float, seed: int, work_dir: str, epochs: int,
               batch_size: int, lr: float, weight_decay: float, rho: float, width: int,
               ramp_epochs: float, data: Dict, keep_checkpoint: bool,
               log_interval: int) -> Config:
    """The Runner config of one run; the variant is applied with ``apply_variant``."""
    spec = BENCHMARKS[bench]
    cfg = Config(dict(
        default_scope='mmpretrain',
        work_dir=work_dir,
        experiment_name=f'{bench}_{variant}_{noise}_{seed}_{time.time_ns()}',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type=spec.backbone, width=width),
            head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                      in_channels=spec.features(width),
                      loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=NUM_CLASSES)),
        train_dataloader=dict(
            batch_size=batch_size, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(type=spec.dataset, split='train', noise=noise, noise_seed=seed,
                         **data)),
        test_dataloader=dict(
            batch_size=512, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type=spec.dataset, split='test', **data)),
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


def subset_ratio(variant: str) -> Optional[float]:
    """The ratio of a variant that trains on drawn subsets, None for the others."""
    return VARIANTS[variant].options.get('ratio') if uses_sampler(variant) else None


def is_random_subset(variant: str) -> bool:
    return uses_sampler(variant) and VARIANTS[variant].options.get('score') == 'uniform'


def noisy_label_fit(runner: Runner, dataset: NoisyLabelDataset) -> Optional[float]:
    """Fraction of the flipped training samples predicted as their (wrong) training label."""
    if len(dataset.flipped) == 0:
        return None
    model = runner.model
    model.eval()
    idx = torch.from_numpy(dataset.flipped)
    with torch.no_grad():
        batch = dict(inputs=list(dataset.inputs[idx]),
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


def paired(mine: Dict[int, float], other: Dict[int, float]) -> Optional[Dict]:
    """Per-seed differences ``mine - other`` over the seeds both have: mean, std, and the
    two-sided p-values of a paired t-test and of a Wilcoxon signed-rank test (None when
    undefined: fewer than 2 pairs, or all differences equal)."""
    seeds = sorted(set(mine) & set(other))
    if not seeds:
        return None
    diffs = [mine[s] - other[s] for s in seeds]
    mean, std = mean_std(diffs)
    t_p = w_p = None
    if len(diffs) > 1 and any(d != diffs[0] for d in diffs):
        from scipy import stats
        t_p = float(stats.ttest_rel([mine[s] for s in seeds], [other[s] for s in seeds]).pvalue)
        if any(d != 0 for d in diffs):
            w_p = float(stats.wilcoxon(diffs).pvalue)
    return dict(n=len(diffs), mean=mean, std=std, t_test_p=t_p, wilcoxon_p=w_p)


def summarize(runs: List[Dict]) -> Dict[str, Dict[str, Dict]]:
    """Per noise level and variant: mean/std of accuracy, time, noisy fit; paired differences
    to SAM, to the base optimizer and (subset variants) to random-subset SAM at its ratio."""
    summary: Dict[str, Dict[str, Dict]] = {}
    for noise in sorted({r['noise'] for r in runs}):
        at = [r for r in runs if r['noise'] == noise]
        acc = {v: {r['seed']: r['test_acc'] for r in at if r['variant'] == v}
               for v in dict.fromkeys(r['variant'] for r in at)}
        random_at = {subset_ratio(v): v for v in acc if is_random_subset(v)}
        rows = {}
        for variant in acc:
            mine = [r for r in at if r['variant'] == variant]
            acc_mean, acc_std = mean_std(r['test_acc'] for r in mine)
            time_mean, time_std = mean_std(r['train_time_s'] for r in mine)
            cpu_mean, cpu_std = mean_std(r['train_cpu_s'] for r in mine)
            row = dict(n=len(mine), acc_mean=acc_mean, acc_std=acc_std, time_mean_s=time_mean,
                       time_std_s=time_std, cpu_mean_s=cpu_mean, cpu_std_s=cpu_std)
            fits = [r['noisy_fit'] for r in mine if r['noisy_fit'] is not None]
            if fits:
                row['noisy_fit_mean'], row['noisy_fit_std'] = mean_std(fits)
            against = ['sam', 'base']
            if subset_ratio(variant) in random_at and not is_random_subset(variant):
                against.append(random_at[subset_ratio(variant)])
            row['paired'] = {o: paired(acc[variant], acc[o]) for o in against
                             if o in acc and o != variant}
            if row['paired'].get('sam'):
                row['gap_to_sam_mean'] = row['paired']['sam']['mean']
                row['gap_to_sam_std'] = row['paired']['sam']['std']
            rows[variant] = row
        summary[f'{noise:g}'] = rows
    return summary


def _pair_text(pair: Optional[Dict], p_value: bool = False) -> str:
    if not pair:
        return '-'
    text = f"{100 * pair['mean']:+.2f}+-{100 * pair['std']:.2f}"
    if p_value:
        text += f" ({pair['t_test_p']:.3f})" if pair['t_test_p'] is not None else ' (-)'
    return text


def table(summary: Dict[str, Dict[str, Dict]]) -> str:
    """Text table; paired differences in points (mean +- std over seeds), p of the t-test."""
    lines = [f"{'noise':>5} {'variant':<20} {'test acc % (mean +- std)':>24} "
             f"{'- SAM (pt)':>12} {'- base (pt)':>12} {'- random (pt, p)':>20} "
             f"{'noisy fit %':>11} {'wall s':>12} {'CPU s':>12}"]
    for noise, rows in summary.items():
        for variant, r in rows.items():
            pairs = r.get('paired', {})
            random_pair = next((p for o, p in pairs.items() if o not in ('sam', 'base')), None)
            fit = f"{100 * r['noisy_fit_mean']:.1f}" if 'noisy_fit_mean' in r else '-'
            lines.append(f"{noise:>5} {variant:<20} "
                         f"{100 * r['acc_mean']:>15.2f} +- {100 * r['acc_std']:<5.2f} "
                         f"{_pair_text(pairs.get('sam')):>12} "
                         f"{_pair_text(pairs.get('base')):>12} "
                         f"{_pair_text(random_pair, True):>20} {fit:>11} "
                         f"{r['time_mean_s']:>6.1f}+-{r['time_std_s']:<4.1f} "
                         f"{r['cpu_mean_s']:>6.1f}+-{r['cpu_std_s']:<4.1f}")
    return '\n'.join(lines)


# -- the study -------------------------------------------------------------------------------

def study_settings(args: argparse.Namespace) -> Dict:
    """The settings every variant of the study shares (what ``--keep-runs`` must match)."""
    return dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=0.9,
                weight_decay=args.weight_decay, rho=args.rho, width=args.width,
                ramp_epochs=args.ramp_epochs, warmup_epochs=1, data=args.data)


def kept_runs(path: Optional[str], dataset: str, settings: Dict,
              flag: str = '--keep-runs') -> Dict[Tuple, Dict]:
    """The runs of an earlier ``--out`` of the same study, keyed by (variant, noise, seed);
    ``flag`` names the option that asked for them in the error."""
    if not path or not osp.isfile(path):
        return {}
    with open(path) as f:
        old = json.load(f)
    mine = {k: v for k, v in old.get('settings', {}).items()
            if k not in ('noise', 'seeds', 'train_size', 'test_size')}
    if old.get('dataset') != dataset or mine != json.loads(json.dumps(settings)):
        raise ValueError(f'{flag}: {path} holds a study of {old.get("dataset")!r} with '
                         f'settings {mine}, not of {dataset!r} with {settings}; pass another '
                         f'file or drop {flag}')
    return {(r['variant'], r['noise'], r['seed']): r for r in old['runs']}


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', choices=list(BENCHMARKS), default='digits')
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS), help='rows of ausam_mm/engine/variants.py')
    parser.add_argument('--noise', nargs='+', type=float,
                        help='symmetric label noise rates of the training split')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument('--epochs', type=int)
    parser.add_argument('--batch-size', type=int)
    parser.add_argument('--lr', type=float)
    parser.add_argument('--weight-decay', type=float)
    parser.add_argument('--rho', type=float, help='SAM radius (all SAM variants)')
    parser.add_argument('--width', type=int, help='channels of the first conv')
    parser.add_argument('--ramp-epochs', type=float, default=None,
                        help="AUSAM's f_max ramp; default: 15%% of the epochs (the reference's "
                        '30 of 200)')
    parser.add_argument('--test-fraction', type=float, help='digits: test split fraction')
    parser.add_argument('--num-samples', type=int, help='mnist1d: samples generated')
    parser.add_argument('--train-split', type=float,
                        help='mnist1d: fraction of the samples for training (the first ones)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (1: on a shared 2-core CPU, 2 threads ran the '
                        'small convs ~6x slower than 1); 0 keeps torch\'s default')
    parser.add_argument('--log-interval', type=int, default=5,
                        help='iterations between logged scalars (text log and vis_data)')
    parser.add_argument('--work-dir', help='keep every run here (logs, scalars, the AUSAM '
                        'checkpoints); default: a temporary folder, deleted')
    parser.add_argument('--out', help='write the results as JSON here (after every run)')
    parser.add_argument('--keep-runs', action='store_true',
                        help='reuse the runs of an existing --out made with the same settings')
    parser.add_argument('--merge', nargs='+', default=[], metavar='JSON',
                        help='also reuse the runs of these --out files of the same study (same '
                        'dataset and settings), e.g. written by parallel processes that ran '
                        'other --seeds, --noise or --variants; needs --out')
    args = parser.parse_args(argv)
    spec = BENCHMARKS[args.dataset]
    for key, value in spec.defaults.items():
        if key != 'data' and getattr(args, key) is None:
            setattr(args, key, value)
    args.data = dict(spec.defaults['data'])
    for flag, key in (('--test-fraction', 'test_fraction'), ('--num-samples', 'num_samples'),
                      ('--train-split', 'train_split')):
        value = getattr(args, key)
        if value is not None:
            if key not in args.data:
                parser.error(f'{flag} is an option of another dataset, not of --dataset '
                             f'{args.dataset}')
            args.data[key] = value
    if args.ramp_epochs is None:
        args.ramp_epochs = round(0.15 * args.epochs, 2)
    if (args.keep_runs or args.merge) and not args.out:
        parser.error('--keep-runs and --merge need --out (where the kept runs go)')
    missing = [path for path in args.merge if not osp.isfile(path)]
    if missing:
        parser.error(f'--merge: no such file {missing}')
    if args.threads:
        torch.set_num_threads(args.threads)
    register_backbone()
    dataset_cls = DATASETS.get(spec.dataset)
    train_size = len(dataset_cls('train', **args.data))  # fails early without its package
    test_size = len(dataset_cls('test', **args.data))
    settings = study_settings(args)
    done = kept_runs(args.out, args.dataset, settings) if args.keep_runs else {}
    for path in args.merge:  # a run already kept (same variant, noise, seed) stays as it is
        for key, run in kept_runs(path, args.dataset, settings, '--merge').items():
            done.setdefault(key, run)

    runs: List[Dict] = []

    def report() -> Dict:
        summary = summarize(runs)
        return dict(
            benchmark=f'{args.dataset} label noise', dataset=args.dataset,
            variants=args.variants,
            variant_options={v: VARIANTS[v].options for v in args.variants},
            settings=dict(settings, noise=args.noise, seeds=args.seeds, train_size=train_size,
                          test_size=test_size),
            device=f'CPU ({platform.processor() or platform.machine()}, '
                   f'{torch.get_num_threads()} threads)',
            torch=torch.__version__, runs=runs, summary=summary, table=table(summary))

    def save() -> None:
        if args.out:
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            with open(args.out + '.tmp', 'w') as f:
                json.dump(report(), f, indent=2)
            os.replace(args.out + '.tmp', args.out)

    runs.extend(r for k, r in done.items()  # kept runs of variants or seeds not asked now too
                if not (k[0] in args.variants and k[1] in args.noise and k[2] in args.seeds))
    with tempfile.TemporaryDirectory() as tmp:
        root = args.work_dir or tmp
        for noise in args.noise:
            for seed in args.seeds:
                for variant in args.variants:  # interleaved: machine noise hits all alike
                    name = f'{variant}_noise{noise:g}_seed{seed}'
                    if (variant, noise, seed) in done:
                        runs.append(done[(variant, noise, seed)])
                        print(f'{name:<32} kept (--keep-runs, --merge)', flush=True)
                        continue
                    cfg = run_config(
                        args.dataset, variant, noise, seed, osp.join(root, name), args.epochs,
                        args.batch_size, args.lr, args.weight_decay, args.rho, args.width,
                        args.ramp_epochs, args.data,
                        keep_checkpoint=bool(args.work_dir) and uses_sampler(variant),
                        log_interval=args.log_interval)
                    result = dict(variant=variant, noise=noise, seed=seed, **run_one(cfg))
                    runs.append(result)
                    save()
                    print(f"{name:<32} test acc {100 * result['test_acc']:6.2f} %  "
                          f"{result['train_time_s']:6.1f} s wall {result['train_cpu_s']:6.1f} s "
                          'CPU', flush=True)
    final = report()
    save()
    print(final['table'])
    return final


if __name__ == '__main__':
    main()
