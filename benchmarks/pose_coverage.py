"""How many MMPose configs ``to_ausam`` converts (``benchmarks/pose_coverage.py``).

A config is trainable when it has ``model``, ``train_dataloader``, ``train_cfg`` and
``optim_wrapper``. Each trainable config is loaded with MMEngine's ``Config.fromfile`` and
converted in memory (nothing is built or trained); the refusals are grouped by their message,
which names the head, its loss keys and the fix (docs/pose.md explains each one).

Usage::

    from benchmarks.pose_coverage import mmpose_configs, report, survey
    ratio = report(survey(mmpose_configs()))

Command line: ``python -m benchmarks.pose_coverage`` (from the repository root).

Apply ``to_ausam`` to every MMPose config installed with the package; count what converts.

    python -m benchmarks.pose_coverage                 # all configs of mmpose/.mim/configs
    python -m benchmarks.pose_coverage --list          # also each config's outcome
    python -m benchmarks.pose_coverage --min-ratio 0.99  # exit 1 below 99% converted

A config is trainable when it has ``model``, ``train_dataloader``, ``train_cfg`` and
``optim_wrapper``. Each trainable config is loaded with MMEngine's ``Config.fromfile`` and
converted in memory (nothing is built or trained); the refusals are grouped by their message,
which names the head, its loss keys and the fix (docs/pose.md explains each one).
"""
import argparse
import glob
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

from ausam_mm.engine.convert import to_ausam

TRAINABLE_KEYS = ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper')


def mmpose_configs() -> List[str]:
    """Every config file MMPose installs (``mmpose/.mim/configs``), without ``_base_``."""
    import mmpose
    root = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs')
    files = glob.glob(osp.join(root, '**', '*.py'), recursive=True)
    return sorted(f for f in files if f'{osp.sep}_base_{osp.sep}' not in f)


def convert_one(path: str) -> Tuple[str, str]:
    """('converted' | 'refused' | 'not trainable' | 'not loadable', detail) for one config."""
    try:
        cfg = Config.fromfile(path)
    except Exception as error:  # a config MMEngine cannot load (reported, not counted)
        return 'not loadable', f'{type(error).__name__}: {str(error).splitlines()[0][:200]}'
    if not all(cfg.get(key) is not None for key in TRAINABLE_KEYS):
        return 'not trainable', ''
    try:
        changes = to_ausam(cfg)
    except (ValueError, RuntimeError) as error:
        return 'refused', str(error).splitlines()[0]
    return 'converted', '; '.join(c for c in changes if 'loss' in c.lower() or 'head' in c)


def survey(paths: List[str]) -> Dict[str, Dict[str, List[str]]]:
    """outcome -> detail -> config paths."""
    outcomes: Dict[str, Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    for path in paths:
        outcome, detail = convert_one(path)
        outcomes[outcome][detail].append(path)
    return outcomes


def count(outcomes: Dict[str, Dict[str, List[str]]], outcome: str) -> int:
    return sum(len(paths) for paths in outcomes.get(outcome, {}).values())


def report(outcomes: Dict[str, Dict[str, List[str]]], root: Optional[str] = None,
           listing: bool = False) -> float:
    """Print the counts and the refusals with their reasons; returns the converted ratio."""
    def short(path: str) -> str:
        return osp.relpath(path, root) if root else path

    converted, refused = count(outcomes, 'converted'), count(outcomes, 'refused')
    trainable = converted + refused
    ratio = converted / trainable if trainable else 0.0
    print(f'trainable configs: {trainable}; converted: {converted}; refused: {refused} '
          f'({100 * ratio:.1f}% converted); not trainable: {count(outcomes, "not trainable")}; '
          f'not loadable: {count(outcomes, "not loadable")}')
    for outcome in ('refused', 'not loadable'):
        for detail, paths in sorted(outcomes.get(outcome, {}).items()):
            print(f'\n{outcome} ({len(paths)}): {detail}')
            for path in paths:
                print(f'    {short(path)}')
    if listing:
        for detail, paths in sorted(outcomes.get('converted', {}).items()):
            print(f'\nconverted ({len(paths)}): {detail}')
            for path in paths:
                print(f'    {short(path)}')
    return ratio


# -- command line ---------------------------------------------------------------------------

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
