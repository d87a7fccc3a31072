"""Apply ``to_ausam`` to every MMPose config installed with the package; count what converts.

    python tools/pose_config_coverage.py                 # all configs of mmpose/.mim/configs
    python tools/pose_config_coverage.py --list          # also each config's outcome
    python tools/pose_config_coverage.py --min-ratio 0.99  # exit 1 below 99% converted

A config is trainable when it has ``model``, ``train_dataloader``, ``train_cfg`` and
``optim_wrapper``. Each trainable config is loaded with MMEngine's ``Config.fromfile`` and
converted in memory (nothing is built or trained); the refusals are grouped by their message,
which names the head, its loss keys and the fix (docs/pose.md explains each one).
"""
import argparse
import os.path as osp
import sys

from known_warnings import silence

silence()  # before the imports below: some dependencies warn while they load

from ausam_mm.pose.coverage import mmpose_configs, report, survey  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--list', action='store_true', help="also list the converted configs")
    parser.add_argument('--min-ratio', type=float, default=0.0,
                        help='exit with 1 when fewer than this share of trainable configs convert')
    args = parser.parse_args(argv)
    paths = mmpose_configs()
    ratio = report(survey(paths), osp.commonpath(paths), args.list)
    return int(ratio < args.min_ratio)


if __name__ == '__main__':
    sys.exit(main())
