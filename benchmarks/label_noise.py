"""The label-noise accuracy study of ``benchmarks/label_noise.py``: real data the CPU trains
on in minutes (scikit-learn's digits, MNIST-1D), symmetric noise on the training labels, an
mmpretrain ``ImageClassifier`` (or its QAT form, ``qat='w4a4'``: ``BrevitasQATModel``) per
variant x noise level x seed through a real Runner, and the summary (mean +- std over seeds,
paired differences and their significance).

Needs mmpretrain, and scikit-learn (digits) or mnist1d: ``pip install -e .[bench]``.

Usage::

    from benchmarks.label_noise import run_study, study_settings
    settings = study_settings('digits', epochs=2)
    report = run_study('digits', ['base', 'ausam_0.5'], noise=[0.3], seeds=[0],
                       settings=settings, out='accuracy.json')
    print(report['table'])

Command line: ``python -m benchmarks.label_noise`` (from the repository root).

Test accuracy under label noise: base optimizer, SAM, AUSAM, random-subset SAM, cheap SAMs.

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
weights; the variants (rows of ``benchmarks/variants.py``, applied with its
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
mislabelled indices) for ``benchmarks/plots.py selection``.

For each subset ratio r run both ways (``ausam*_r`` and ``random_r``) the summary adds the
paired (per-seed) difference to random-subset SAM at the same cost and its significance: a
paired t-test and a Wilcoxon signed-rank test (two-sided; with 5 seeds the Wilcoxon test
cannot go below p = 0.0625).

Every setting has a per-dataset default (``benchmarks.label_noise.BENCHMARKS``); a
flag overrides it for every variant alike. ``--out`` is rewritten after every run;
``--keep-runs`` reuses the runs an existing ``--out`` holds for the same dataset and settings
(an interrupted study goes on where it stopped, or another variant joins a finished one) and
refuses one made with other settings; ``--merge`` adds the runs of other ``--out`` files of the
same study (processes run in parallel with other ``--seeds``, ``--noise`` or ``--variants``)
the same way.

Needs scikit-learn (digits) or mnist1d: ``pip install -e .[bench]``.

Examples:
    python -m benchmarks.label_noise --out results/accuracy_digits.json
    python -m benchmarks.label_noise --dataset mnist1d --out results/accuracy_mnist1d.json
    python -m benchmarks.label_noise --seeds 0 --epochs 2 --noise 0.3   # smoke run
"""
import argparse
import copy
import functools
import json
import os
import os.path as osp
import platform
import random
import re
import statistics
import tempfile
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DATASETS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from .variants import VARIANTS, apply_variant, uses_sampler

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

    Subclasses give :meth:`split_arrays` and the options of the split (``**split_args``).

    Args:
        split: ``'train'`` or ``'test'``.
        noise: symmetric label noise rate of the train split (the test split stays clean).
        noise_seed: which samples are flipped, and to what.
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
        test_fraction, split_seed: the train/test split (:func:`digits_split`); the others
            are :class:`NoisyLabelDataset`'s.

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
        num_samples, train_split, data_seed: the generated dataset (:func:`mnist1d_split`);
            the others are :class:`NoisyLabelDataset`'s.

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


#: what ``qat='w4a4'`` (``--qat w4a4``) sets besides the bit widths: the paper's QAT setting
#: (first and last layer at 8 bits, learned step sizes), the input scales initialised over the
#: first 30 training forwards (Brevitas's 300 would be 20 of the 30 digits epochs)
QAT_DEFAULTS = dict(first_last_bit_width=8, quantizer='lsq', collect_stats_steps=30)


def qat_options(spec: str) -> Dict:
    """The ``BrevitasQATModel`` options of ``'w<weight bits>a<input bits>'``, e.g. ``'w4a4'``
    (the others: :data:`QAT_DEFAULTS`)."""
    match = re.fullmatch(r'w(\d+)a(\d+)', spec.lower())
    if not match:
        raise ValueError(f"qat must read 'w<bits>a<bits>' (weights, layer inputs), e.g. 'w4a4', "
                         f'got {spec!r}')
    return dict(weight_bit_width=int(match.group(1)), act_bit_width=int(match.group(2)),
                **QAT_DEFAULTS)


BENCHMARKS: Dict[str, Benchmark] = {
    'digits': Benchmark('DigitsDataset', 'DigitsConvNet', lambda width: 32 * width, dict(
        epochs=30, batch_size=64, lr=0.05, weight_decay=5e-4, rho=0.1, width=16,
        noise=[0.0, 0.3], data=dict(test_fraction=0.5, split_seed=0))),
    'mnist1d': Benchmark('Mnist1dDataset', 'Mnist1dConvNet', lambda width: 10 * width, dict(
        epochs=30, batch_size=32, lr=0.05, weight_decay=5e-4, rho=0.1, width=32,
        noise=[0.0, 0.2], data=dict(num_samples=4000, train_split=0.5, data_seed=42))),
}


# -- one run ---------------------------------------------------------------------------------

def run_config(bench: str, variant: str, noise: float, seed: int, work_dir: str,
               settings: Dict, keep_checkpoint: bool = False, log_interval: int = 5) -> Config:
    """The Runner config of one run with the study's ``settings`` (:func:`study_settings`);
    the variant is applied with ``apply_variant``."""
    spec = BENCHMARKS[bench]
    epochs, batch_size = settings['epochs'], settings['batch_size']
    width, data = settings['width'], settings['data']
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
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=settings['lr'],
                                          momentum=settings['momentum'],
                                          weight_decay=settings['weight_decay'])),
        param_scheduler=[dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True,
                              convert_to_iter_based=True)],
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=log_interval),
            checkpoint=(dict(type='CheckpointHook', interval=epochs) if keep_checkpoint
                        else None)),
        randomness=dict(seed=seed),
        log_level='WARNING'))
    if settings.get('qat'):
        from ausam_mm.quant import SCALES_KEY
        cfg.model = dict(type='BrevitasQATModel', model=cfg.model, **settings['qat'])
        # the quantizers' learned scales: no weight decay, not perturbed by SAM (docs/quant.md,
        # as configs/qat/ do)
        cfg.optim_wrapper.paramwise_cfg = dict(
            custom_keys={SCALES_KEY: dict(decay_mult=0., sam_perturb=False)})
    apply_variant(cfg, variant, rho=settings['rho'], ramp_epochs=settings['ramp_epochs'])
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


def run_one(cfg: Config, hooks: Sequence[Hook] = ()) -> Dict:
    """Train and test one run; ``hooks`` are registered too (what else a caller records)."""
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    for hook in hooks:
        runner.register_hook(hook)
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

def study_settings(dataset: str, epochs: Optional[int] = None,
                   batch_size: Optional[int] = None, lr: Optional[float] = None,
                   weight_decay: Optional[float] = None, rho: Optional[float] = None,
                   width: Optional[int] = None, ramp_epochs: Optional[float] = None,
                   qat: Optional[str] = None, **data: Optional[float]) -> Dict:
    """The settings every variant of the study shares (what ``--keep-runs`` must match): the
    dataset's defaults (:data:`BENCHMARKS`) but those given (not None); ``data`` are the
    dataset's own options (digits: ``test_fraction``; mnist1d: ``num_samples``,
    ``train_split``). AUSAM's ``ramp_epochs`` defaults to 15 % of the epochs (the reference's
    30 of 200). ``qat`` (e.g. ``'w4a4'``, :func:`qat_options`) trains the model quantized by
    ``BrevitasQATModel``; the settings hold its options only then (so the float studies'
    files keep theirs)."""
    defaults = BENCHMARKS[dataset].defaults
    given = dict(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                 rho=rho, width=width)
    settings = {k: defaults[k] if v is None else v for k, v in given.items()}
    data = {k: v for k, v in data.items() if v is not None}
    foreign = sorted(set(data) - set(defaults['data']))
    if foreign:
        raise ValueError(f'{foreign} are options of another dataset, not of {dataset!r} (its '
                         f"options: {sorted(defaults['data'])}); drop them or pick that dataset")
    if ramp_epochs is None:
        ramp_epochs = round(0.15 * settings['epochs'], 2)
    settings = dict(epochs=settings['epochs'], batch_size=settings['batch_size'],
                    lr=settings['lr'], momentum=0.9, weight_decay=settings['weight_decay'],
                    rho=settings['rho'], width=settings['width'], ramp_epochs=ramp_epochs,
                    warmup_epochs=1, data=dict(defaults['data'], **data))
    if qat is not None:
        settings['qat'] = qat_options(qat)
    return settings


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


def earlier_runs(dataset: str, settings: Dict, keep: Optional[str] = None,
                 merge: Sequence[str] = ()) -> Dict[Tuple, Dict]:
    """The runs to reuse: those of ``keep`` (``--keep-runs``: the study's own ``--out``), then
    those of the ``merge`` files not already kept (a run of the same variant, noise and seed
    stays as it is); each file must hold a study of the same dataset and settings."""
    done = kept_runs(keep, dataset, settings) if keep else {}
    for path in merge:
        for key, run in kept_runs(path, dataset, settings, '--merge').items():
            done.setdefault(key, run)
    return done


def study_report(dataset: str, variants: Sequence[str], noise: Sequence[float],
                 seeds: Sequence[int], settings: Dict, sizes: Tuple[int, int],
                 runs: List[Dict]) -> Dict:
    """What ``--out`` holds: the study's settings, every run, the summary and its table."""
    summary = summarize(runs)
    return dict(
        benchmark=f'{dataset} label noise', dataset=dataset, variants=list(variants),
        variant_options={v: VARIANTS[v].options for v in variants},
        settings=dict(settings, noise=list(noise), seeds=list(seeds), train_size=sizes[0],
                      test_size=sizes[1]),
        device=f'CPU ({platform.processor() or platform.machine()}, '
               f'{torch.get_num_threads()} threads)',
        torch=torch.__version__, runs=runs, summary=summary, table=table(summary))


def write_json(path: str, report: Dict) -> None:
    """Write ``report`` to ``path`` through a temporary file (a stopped study leaves it whole)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(report, f, indent=2)
    os.replace(path + '.tmp', path)


def run_study(dataset: str, variants: Sequence[str], noise: Sequence[float],
              seeds: Sequence[int], settings: Dict, work_dir: Optional[str] = None,
              out: Optional[str] = None, done: Optional[Dict[Tuple, Dict]] = None,
              log_interval: int = 5) -> Dict:
    """Train every variant x noise level x seed (interleaved: machine noise hits all alike)
    but those in ``done`` (:func:`earlier_runs`, reused; its runs of other variants, noise
    levels or seeds are reported too); ``out`` is rewritten after every run. ``work_dir``
    keeps every run (logs, scalars, the subset variants' last checkpoint and
    ``flipped.json``); without it the runs go to a temporary folder, deleted."""
    done = done or {}
    register_backbone()
    dataset_cls = DATASETS.get(BENCHMARKS[dataset].dataset)
    sizes = (len(dataset_cls('train', **settings['data'])),  # fails early without its package
             len(dataset_cls('test', **settings['data'])))
    runs = [r for k, r in done.items()  # kept runs of variants or seeds not asked now too
            if not (k[0] in variants and k[1] in noise and k[2] in seeds)]
    with tempfile.TemporaryDirectory() as tmp:
        root = work_dir or tmp
        for rate in noise:
            for seed in seeds:
                for variant in variants:
                    name = f'{variant}_noise{rate:g}_seed{seed}'
                    if (variant, rate, seed) in done:
                        runs.append(done[(variant, rate, seed)])
                        print(f'{name:<32} kept (--keep-runs, --merge)', flush=True)
                        continue
                    cfg = run_config(dataset, variant, rate, seed, osp.join(root, name),
                                     settings, keep_checkpoint=bool(work_dir)
                                     and uses_sampler(variant), log_interval=log_interval)
                    result = dict(variant=variant, noise=rate, seed=seed, **run_one(cfg))
                    runs.append(result)
                    if out:
                        write_json(out, study_report(dataset, variants, noise, seeds, settings,
                                                     sizes, runs))
                    print(f"{name:<32} test acc {100 * result['test_acc']:6.2f} %  "
                          f"{result['train_time_s']:6.1f} s wall {result['train_cpu_s']:6.1f} s "
                          'CPU', flush=True)
    report = study_report(dataset, variants, noise, seeds, settings, sizes, runs)
    if out:
        write_json(out, report)
    return report


# -- command line ---------------------------------------------------------------------------

def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', choices=list(BENCHMARKS), default='digits')
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS), help='rows of benchmarks/variants.py')
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
    parser.add_argument('--qat', metavar='wXaY',
                        help="quantization-aware training: the model quantized by "
                        "BrevitasQATModel at X-bit weights and Y-bit layer inputs, e.g. 'w4a4' "
                        '(first and last layer 8 bits, learned step sizes: '
                        'benchmarks.label_noise.QAT_DEFAULTS)')
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
    if args.noise is None:
        args.noise = BENCHMARKS[args.dataset].defaults['noise']
    try:
        args.settings = study_settings(
            args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            weight_decay=args.weight_decay, rho=args.rho, width=args.width,
            ramp_epochs=args.ramp_epochs, qat=args.qat, test_fraction=args.test_fraction,
            num_samples=args.num_samples, train_split=args.train_split)
    except ValueError as error:
        parser.error(f'--dataset {args.dataset}: {error}')
    if (args.keep_runs or args.merge) and not args.out:
        parser.error('--keep-runs and --merge need --out (where the kept runs go)')
    missing = [path for path in args.merge if not osp.isfile(path)]
    if missing:
        parser.error(f'--merge: no such file {missing}')
    return args


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    done = earlier_runs(args.dataset, args.settings, args.out if args.keep_runs else None,
                        args.merge)
    report = run_study(args.dataset, args.variants, args.noise, args.seeds, args.settings,
                       work_dir=args.work_dir, out=args.out, done=done,
                       log_interval=args.log_interval)
    print(report['table'])
    return report


if __name__ == '__main__':
    main()
