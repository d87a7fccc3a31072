"""`make demo`: what SAM buys, what AUSAM keeps of it, on held-out data, in three parts.

1. digits (scikit-learn's real 8x8 scans), 30 % of the training labels wrong, accuracy on the
   clean held-out half: the base optimizer, SAM, AUSAM 0.5 and random-subset SAM 0.5;
2. the same with the model quantized for QAT (``BrevitasQATModel``, W4A4);
3. the small MMPose model of ``configs/demo/tiny_pose_coco.py``: passes per sample, seconds
   per step, the training loss and the AP on its own 12 training instances.

Every run goes through MMEngine's Runner with the project's benchmark code and configs
(``ausam_mm/benchmark/demo.py``); it prints one table and one sentence per part, writes one
PNG, and prints each run's log and the command that reruns it. No download.

Examples:
    python tools/demo.py                                      # what `make demo` runs
    python tools/demo.py --parts pose --work-dir /tmp/demo    # one part
    python tools/demo.py --digits-epochs 2 --pose-epochs 3    # a quick look at the output
"""
import argparse
import time
from typing import Dict, List, Optional

from known_warnings import silence

START = time.perf_counter()
silence()  # before the imports below: some dependencies warn while they load

import torch  # noqa: E402

from ausam_mm.benchmark.demo import PARTS, run_demo  # noqa: E402


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='one folder per part and run in here, and the PNG')
    parser.add_argument('--parts', nargs='+', choices=PARTS, default=list(PARTS))
    parser.add_argument('--digits-epochs', type=int, default=None,
                        help='epochs of the digits parts (default: the study\'s 30)')
    parser.add_argument('--pose-epochs', type=int, default=None,
                        help='epochs of the pose part (default: the config\'s)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (the models are tiny: one is as fast, and far '
                        'faster when other work shares the cores); 0 keeps torch\'s default')
    parser.add_argument('--verbose', action='store_true',
                        help="show MMEngine's console output of the runs (it is in their logs)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print('[demo] three parts, each run from the same initial weights as the others of its '
          'part, seeds fixed: ' + ', '.join(args.parts), flush=True)
    report = run_demo(args.work_dir, args.parts, args.digits_epochs, args.pose_epochs,
                      args.verbose)
    print(report['text'])
    print(f'[demo] the whole command: {time.perf_counter() - START:.0f} s of wall time, '
          f'{time.process_time():.0f} s of CPU time')
    return report


if __name__ == '__main__':
    main()
