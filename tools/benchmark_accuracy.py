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
weights; the variants (rows of ``ausam_mm/benchmark/variants.py``, applied with its
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

Every setting has a per-dataset default (``ausam_mm.benchmark.label_noise.BENCHMARKS``); a
flag overrides it for every variant alike. ``--out`` is rewritten after every run;
``--keep-runs`` reuses the runs an existing ``--out`` holds for the same dataset and settings
(an interrupted study goes on where it stopped, or another variant joins a finished one) and
refuses one made with other settings; ``--merge`` adds the runs of other ``--out`` files of the
same study (processes run in parallel with other ``--seeds``, ``--noise`` or ``--variants``)
the same way.

Needs scikit-learn (digits) or mnist1d: ``pip install -e .[bench]``.

Examples:
    python tools/benchmark_accuracy.py --out results/accuracy_digits.json
    python tools/benchmark_accuracy.py --dataset mnist1d --out results/accuracy_mnist1d.json
    python tools/benchmark_accuracy.py --seeds 0 --epochs 2 --noise 0.3   # smoke run
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

from known_warnings import silence

silence()  # before the imports below: some dependencies warn while they load

import torch  # noqa: E402

import ausam_mm  # noqa: E402, F401  (registers the wrappers, the sampler, the mmpretrain adapter)
from ausam_mm.benchmark.label_noise import (BENCHMARKS, DEFAULT_VARIANTS,  # noqa: E402
                                            earlier_runs, run_study, study_settings)
from ausam_mm.benchmark.variants import VARIANTS  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', choices=list(BENCHMARKS), default='digits')
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS), help='rows of ausam_mm/benchmark/variants.py')
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
                        'ausam_mm.benchmark.label_noise.QAT_DEFAULTS)')
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
