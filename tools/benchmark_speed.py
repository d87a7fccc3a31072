"""Throughput of the base optimizer, SAM, AUSAM and random-subset SAM, interleaved in one run.

For one config, every variant (a row of ``ausam_mm/benchmark/variants.py``) trains through a
real MMEngine Runner (iteration-based, data loading included) and is timed after a few warm-up
iterations; the variants take turns for ``--rounds`` rounds so that machine noise hits them
alike. The samples per second of process CPU time are reported too: on a shared machine they
are far less noisy than wall time. Reported per variant: candidate samples per second
(``batch_size`` x iterations / s: how fast an epoch goes), on CUDA the peak memory of each
variant's run (``peak MB``: ``torch.cuda.max_memory_allocated``, reset per variant) and what a
step adds at its peak to what the run holds between steps (``step MB``: activations,
gradients, SAM's perturbation), both ``-`` on the CPU; the sample-forwards
per candidate sample counted by a forward hook (``forwards``: base 1, SAM 2, AUSAM 2 x ratio,
SAM every 2 1.5, ESAM 2 + gamma, its ranking forward having no backward) and the analytic cost
in forward + backward passes (``ideal``, :func:`~ausam_mm.benchmark.variants.ideal_passes`: ESAM
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

``--compile`` times every variant twice in each turn, eagerly and then with MMEngine's
``compile=True`` (``torch.compile`` of ``train_step``; a ``compile`` dict given with
``--cfg-options`` is used instead), each compiled run from fresh Dynamo caches with its
compilation in the ``--skip`` iterations, and prints the compiled/eager ratios
(``compile_ratios`` in the JSON, with the graphs compiled while timing: 0 when the warm-up
held every compilation).

Examples:
    python tools/benchmark_speed.py                                  # small net, CPU
    python tools/benchmark_speed.py CONFIG --batch-size 64 --amp --out results/speed.json
    python tools/benchmark_speed.py --variants base sam ausam_0.5 --compile   # eager vs compiled
"""
import argparse
import os.path as osp
import tempfile
from typing import Dict, List, Optional

from known_warnings import silence

silence()  # before the imports below: some dependencies warn while they load

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import ausam_mm  # noqa: E402, F401  (registers)
from ausam_mm.benchmark.speed import (DEFAULT_VARIANTS, check_iters,  # noqa: E402
                                      run_speed_benchmark, spread_table)
from ausam_mm.benchmark.synthetic import (SMALL_CONVNET, small_convnet_config,  # noqa: E402
                                          write_class_images)
from ausam_mm.benchmark.variants import VARIANTS  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='MMEngine config; default: small conv net')
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS), help='rows of ausam_mm/benchmark/variants.py')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--iters', type=int, default=12, help='timed iterations per turn')
    parser.add_argument('--skip', type=int, default=3, help='untimed warm-up iterations')
    parser.add_argument('--rounds', type=int, default=3, help='turns of each variant')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--compile', action='store_true',
                        help="also time each variant with MMEngine's compile=True "
                             '(torch.compile), reporting compiled/eager ratios')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (key=value)')
    args = parser.parse_args(argv)
    try:
        check_iters(args.variants, args.iters)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        if args.config:
            base = Config.fromfile(args.config)
            base.train_dataloader.batch_size = args.batch_size
        else:
            write_class_images(osp.join(tmp, 'images'))
            base = small_convnet_config(osp.join(tmp, 'images'), args.batch_size)
        if args.cfg_options:
            base.merge_from_dict(args.cfg_options)
        report = run_speed_benchmark(base, args.variants, args.iters, args.skip, args.rounds,
                                     tmp, amp=args.amp, out=args.out,
                                     config=args.config or SMALL_CONVNET, compile=args.compile)
    print(report['table'])
    if report['turn_ratios']:
        print(spread_table(report['turn_ratios']))
    if args.compile:
        print(report['compile_table'])
    return report


if __name__ == '__main__':
    main()
