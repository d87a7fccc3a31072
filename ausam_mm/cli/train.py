"""The command line of ``tools/train.py``: MMPose's ``tools/train.py`` interface plus ``--sam``,
``--ausam``, ``--esam`` (``ausam_mm.engine.convert``), ``--amp``, a ``--resume`` that finds
the newest intact checkpoint, and MMEngine's ``compile`` option run as ``CompileForwardHook``
(the model's forward compiled). The demo (``benchmarks.demo``) builds its pose runs'
configs through it, so each is the ``tools/train.py`` command it prints.

Usage::

    python -m ausam_mm.cli.train CONFIG --ausam ratio=0.5     # = python tools/train.py ...

    from ausam_mm.cli.train import load_config, parse_args
    cfg, changes = load_config(parse_args([CONFIG, '--ausam', 'ratio=0.5']))
"""
import argparse
import logging
import os
import os.path as osp
from typing import Tuple

import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner, find_latest_checkpoint

from ..engine.convert import to_amp, to_ausam, to_esam, to_sam
from ..engine.resume import find_resume_checkpoint
from .run_policy import add_epoch_seed_hook, to_compile_forward
from ..compat.cpu_dist import init_cpu_dist

#: the notes of ``--resume`` without a path: each says where the run resumes from another file
#: than the latest checkpoint (an earlier one, a moved work dir), so each is a warning
RESUME_NOTE = '--resume: '


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model (SAM / AUSAM ready)')
    parser.add_argument('config', help='train config file path (or package::path)')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a path from the newest intact checkpoint '
        'of the work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR by actual batch size / base batch size')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--sam', nargs='*', action=DictAction, metavar='KEY=VALUE',
                       help='train with SAMOptimWrapper (options: rho, adaptive, interval, '
                       'begin, end, probability, ...)')
    group.add_argument('--ausam', nargs='*', action=DictAction, metavar='KEY=VALUE',
                       help='train with AUSAM (options: ratio, rho, f_min, f_max, ...)')
    group.add_argument('--esam', nargs='*', action=DictAction, metavar='KEY=VALUE',
                       help='train with ESAM (options: gamma, perturb_fraction, rho, ...)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value (see MMEngine DictAction)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args) -> list:
    """Apply the command line to ``cfg``; returns what it changed or chose, for the log."""
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    # before the conversion: keys keep the config's own paths, and what --ausam derives from the
    # config (the batch size of batch-sum losses) sees the overrides; `--ausam k=v` tunes the rest
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    changes = []
    if args.resume is not None:
        load_from = args.resume
        if args.resume == 'auto':
            load_from, notes = find_resume_checkpoint(cfg.work_dir)
            changes += [RESUME_NOTE + note for note in notes]
        cfg.resume = load_from is not None
        cfg.load_from = load_from
    if args.sam is not None:
        changes += to_sam(cfg, **(args.sam or {}))
    if args.ausam is not None:
        changes += to_ausam(cfg, **(args.ausam or {}))
    if args.esam is not None:
        changes += to_esam(cfg, **(args.esam or {}))
    if args.amp:
        changes += to_amp(cfg)
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    return changes + to_compile_forward(cfg)


def config_file(path: str) -> str:
    """``mmpose::a/b.py`` (any ``package::`` path) -> the package's installed config file."""
    return Config._get_cfg_path(path, '')[0] if '::' in path else path


def load_config(args) -> Tuple[Config, list]:
    """The config these arguments train, and the changes made (for the log)."""
    cfg = Config.fromfile(config_file(args.config))
    changes = merge_args(cfg, args) + add_epoch_seed_hook(cfg)
    if 'preprocess_cfg' in cfg:
        cfg.model.setdefault('data_preprocessor', cfg.get('preprocess_cfg', {}))
    return cfg, changes


def main(argv=None):
    args = parse_args(argv)
    cfg, changes = load_config(args)
    changes += init_cpu_dist(cfg)  # --launcher pytorch without a GPU
    runner = Runner.from_cfg(cfg)
    for change in changes:
        level = logging.WARNING if change.startswith(RESUME_NOTE) else logging.INFO
        print_log(f'[ausam_mm] {change}', logger='current', level=level)
    runner.train()
    checkpoint = find_latest_checkpoint(runner.work_dir)
    print(f'[ausam_mm] log: {runner.logger.log_file}\n'
          f'[ausam_mm] checkpoint: {checkpoint or "none saved"}', flush=True)
    close_dist()
    return runner


def close_dist() -> None:
    """Close the process group of a distributed run once every rank is done. Neither MMEngine
    nor torchrun does; a gloo group left open at exit can abort a rank whose training ended
    well ("terminate called without an active exception", exit -6) while its threads are
    torn down, and torch >= 2.4 warns that the group was not destroyed."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


if __name__ == '__main__':
    main()
