"""Figures from the benchmarks and from one AUSAM run (PNG files, matplotlib).

Three subcommands:

- ``accuracy-cost``: test accuracy (mean +- std over seeds) against the training cost relative
  to the base optimizer (per-seed CPU-time ratio of ``runner.train()``, mean +- std; SAM or
  the first variant when the study has no base runs; with ``--cost passes``, the variants'
  analytic forward + backward passes per step, ``ausam_mm.benchmark.variants.ideal_passes``,
  for studies whose runs were timed under different loads), one panel per study and
  label-noise level (``tools/benchmark_accuracy.py --out`` files), one point per variant; the
  variants of one family at several ratios (``ausam_0.3``, ``ausam_0.5``, ...) are joined by a
  line.
- ``speed-accuracy``: test accuracy (mean +- std over seeds, one panel per label-noise level,
  from ``tools/benchmark_accuracy.py --out``) against throughput relative to the base optimizer
  (from ``tools/benchmark_speed.py --out``, wall or ``--clock cpu`` time; without it, from the
  accuracy runs' own training CPU time).
- ``selection``: what AUSAM chose in one run, read from its work dir: the score history in the
  last checkpoint (``checkpoint['ausam']['history']``: per-sample DLP sum ``total`` and ``count``;
  each count is one DLP post, i.e. one selection, the warm-up epoch included) as a histogram of
  selection counts and a scatter of ADLP against count (mislabelled samples marked when the
  run left ``flipped.json``, as ``benchmark_accuracy.py --work-dir`` does), and the ``f_max``
  ramp over iterations from the run's ``vis_data/scalars.json`` (written by MMEngine's
  ``LocalVisBackend``, which receives every logged ``ausam/*`` scalar from ``LoggerHook``).

Examples:
    python tools/plot_results.py accuracy-cost --accuracy results/accuracy_mnist1d.json \\
        --out docs/figures/accuracy_cost_mnist1d.png
    python tools/plot_results.py speed-accuracy --speed results/speed_cpu.json \\
        --accuracy results/accuracy_digits.json --out docs/figures/speed_vs_accuracy.png
    python tools/plot_results.py selection work_dirs/benchmark_accuracy/ausam_0.5_noise0.3_seed0 \\
        --out docs/figures/ausam_selection.png
"""
import argparse
from typing import List, Optional

from known_warnings import silence

silence()  # before the imports below: some dependencies warn while they load

from ausam_mm.benchmark.plots import (load_json, plot_accuracy_cost, plot_selection,  # noqa: E402
                                      plot_speed_accuracy)


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
    sel = sub.add_parser('selection', help="one AUSAM run's selections and f_max ramp")
    sel.add_argument('work_dir', help='the work dir of an AUSAM run (with a checkpoint)')
    sel.add_argument('--out', required=True, help='PNG file to write')
    args = parser.parse_args(argv)
    if args.command == 'accuracy-cost':
        out = plot_accuracy_cost([load_json(p) for p in args.accuracy], args.out, args.cost)
    elif args.command == 'speed-accuracy':
        speed = load_json(args.speed) if args.speed else None
        out = plot_speed_accuracy(load_json(args.accuracy), speed, args.out, args.clock)
    else:
        out = plot_selection(args.work_dir, args.out)
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
