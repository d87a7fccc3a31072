"""The interleaved speed benchmark of ``benchmarks/speed.py``: every variant of one config
trains through a real Runner (iteration-based, data loading included) and is timed after a few
warm-up iterations, the variants taking turns for some rounds so that machine noise hits them
alike.

Usage::

    from benchmarks.speed import run_speed_benchmark
    report = run_speed_benchmark(cfg, ['base', 'sam', 'ausam_0.5'], iters=12, skip=3,
                                 rounds=3, work_dir='/tmp/speed', out='speed.json')
    print(report['table'])

With ``compile=True`` every variant is also timed with MMEngine's ``compile`` (``torch.compile``
of ``train_step``) right after its eager turn, from fresh Dynamo caches (as a new process would
start); ``report['compile_table']`` gives the compiled/eager ratios.

Command line: ``python -m benchmarks.speed`` (from the repository root).

Throughput of the base optimizer, SAM, AUSAM and random-subset SAM, interleaved in one run.

For one config, every variant (a row of ``benchmarks/variants.py``) trains through a
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
in forward + backward passes (``ideal``, :func:`~benchmarks.variants.ideal_passes`: ESAM
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
    python -m benchmarks.speed                                  # small net, CPU
    python -m benchmarks.speed CONFIG --batch-size 64 --amp --out results/speed.json
    python -m benchmarks.speed --variants base sam ausam_0.5 --compile   # eager vs compiled
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch._dynamo
from mmengine.config import Config, DictAction

from ausam_mm.engine.convert import to_amp
from .synthetic import SMALL_CONVNET, small_convnet_config, write_class_images
from .throughput import measure
from .variants import VARIANTS, apply_variant, ideal_passes

DEFAULT_VARIANTS = ['base', 'sam', 'ausam_0.3', 'ausam_0.5', 'ausam_1.0', 'random_0.5',
                    'sam_every_2', 'esam_0.5']


def check_iters(variants: Sequence[str], iters: int) -> None:
    """SAM every k: the timed steps must hold whole cycles of k (else the ratio is off)."""
    for name in variants:
        interval = VARIANTS[name].options.get('interval', 1)
        if iters % interval:
            raise ValueError(f'`iters` (--iters) must be a multiple of the interval of every '
                             f'variant: {name!r} has interval={interval}, got --iters {iters}; '
                             f'use --iters {iters + interval - iters % interval}')


def timed_phase(cfg: Config, skip: int, timed: int) -> None:
    """A late-phase variant's fractions ``begin``/``end`` made fractions of the ``timed``
    iterations after the ``skip`` untimed ones (as iterations, ``by_epoch=False``), so that
    the timed steps hold SAM and base steps in the variant's proportion."""
    wrapper = cfg.optim_wrapper
    bounds = {k: wrapper[k] for k in ('begin', 'end') if isinstance(wrapper.get(k), float)}
    for key, fraction in bounds.items():
        wrapper[key] = skip + round(fraction * timed)
    if bounds:
        wrapper.by_epoch = False


def variant_config(base: Config, name: str, work_dir: str, iters: int,
                   amp: bool, skip: int = 0, compile: Union[bool, dict, None] = None) -> Config:
    """``base`` as variant ``name`` for ``iters`` iterations, with nothing but training: no
    evaluation, checkpoints, schedules or custom hooks; AUSAM's warm-up and ramp off.
    ``compile``: MMEngine's ``compile`` option of the run (None: the one of ``base``)."""
    cfg = copy.deepcopy(base)
    if compile is not None:
        cfg.compile = compile
    cfg.work_dir = osp.join(work_dir, name)
    cfg.experiment_name = f'bench_{name}_{time.time_ns()}'
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    # an endless sampler: MMEngine's iteration loop sleeps 2 s whenever a finite sampler's
    # epoch ends (mmengine/runner/loops.py, _InfiniteDataloaderIterator), a loop artefact
    # that would be timed as if it were part of every optimizer's step
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = None
    hooks = cfg.get('default_hooks') or {}
    hooks.update(checkpoint=None, logger=dict(type='LoggerHook', interval=10 ** 6))
    hooks.pop('visualization', None)  # MMPose/mmpretrain's; MMEngine accepts None only for its own
    cfg.default_hooks = hooks
    cfg.custom_hooks = []
    cfg.log_level = 'WARNING'
    apply_variant(cfg, name, warmup_epochs=0, ramp_epochs=0)
    timed_phase(cfg, skip, iters - skip)
    if amp:
        to_amp(cfg)
    return cfg


def ratio_table(results: Dict[str, Dict]) -> str:
    sam = results.get('sam', {}).get('samples_per_s')
    base = results.get('base', {}).get('samples_per_s')
    sam_cpu = results.get('sam', {}).get('samples_per_cpu_s')
    lines = [f"{'variant':<12} {'samples/s':>10} {'vs SAM':>7} {'vs base':>8} "
             f"{'forwards':>8} {'ideal':>6} {'peak MB':>8} {'step MB':>8} "
             f"{'CPU-time vs SAM':>16}"]
    for name, r in results.items():
        mem, step = (f'{r[k]:.0f}' if r[k] is not None else '-'
                     for k in ('peak_mem_mb', 'step_mem_mb'))
        lines.append(f"{name:<12} {r['samples_per_s']:>10.1f} "
                     f"{r['samples_per_s'] / sam if sam else float('nan'):>7.3f} "
                     f"{r['samples_per_s'] / base if base else float('nan'):>8.3f} "
                     f"{r['passes_per_sample']:>8.2f} {ideal_passes(name):>6.2f} "
                     f"{mem:>8} {step:>8} "
                     f"{r['samples_per_cpu_s'] / sam_cpu if sam_cpu else float('nan'):>16.3f}")
    return '\n'.join(lines)


def turn_ratios(results: Dict[str, Dict]) -> Dict[str, Dict[str, List[float]]]:
    """Each turn's ratio to SAM and to the base optimizer, in wall and in CPU time: the
    variants of one turn ran back to back, so these pair off the machine's slow phases."""
    spread = {}
    for ref in ('sam', 'base'):
        if ref not in results:
            continue
        for name, r in results.items():
            for clock, key in (('wall', 'samples_per_s_turns'), ('cpu', 'samples_per_cpu_s_turns')):
                spread.setdefault(name, {})[f'{clock}_vs_{ref}'] = [
                    mine / theirs for mine, theirs in zip(r[key], results[ref][key])]
    return spread


def spread_table(spread: Dict[str, Dict[str, List[float]]]) -> str:
    """min / median / max over the turns of each ratio."""
    keys = sorted({k for ratios in spread.values() for k in ratios})
    lines = [f"{'variant':<12} " + ' '.join(f'{k + " min/med/max":>24}' for k in keys)]
    for name, ratios in spread.items():
        cells = []
        for k in keys:
            v = ratios.get(k)
            cells.append(f'{min(v):>7.3f} {statistics.median(v):>7.3f} {max(v):>7.3f}  '
                         if v else f"{'-':>24}")
        lines.append(f'{name:<12} ' + ' '.join(cells))
    return '\n'.join(lines)


def turn_medians(turns: List[Dict]) -> Dict:
    """One variant's figures: medians over its turns and each turn's throughput."""
    return dict(
        samples_per_s=statistics.median(t['samples_per_s'] for t in turns),
        samples_per_s_turns=[t['samples_per_s'] for t in turns],
        samples_per_cpu_s=statistics.median(t['samples_per_cpu_s'] for t in turns),
        samples_per_cpu_s_turns=[t['samples_per_cpu_s'] for t in turns],
        passes_per_sample=turns[-1]['passes_per_sample'],
        peak_mem_mb=max((t['peak_mem_mb'] or 0) for t in turns) or None,
        step_mem_mb=max((t['step_mem_mb'] or 0) for t in turns) or None)


def compile_ratios(eager: Dict[str, Dict], compiled: Dict[str, Dict]) -> Dict[str, Dict]:
    """compiled / eager throughput of each variant timed both ways, in wall and in CPU time:
    the ratio of the medians and each turn's ratio (the two runs of a turn ran back to back)."""
    ratios = {}
    for name in compiled:
        if name not in eager:
            continue
        ratio = {}
        for clock, key in (('wall', 'samples_per_s'), ('cpu', 'samples_per_cpu_s')):
            ratio[clock] = compiled[name][key] / eager[name][key]
            pairs = zip(compiled[name][f'{key}_turns'], eager[name][f'{key}_turns'])
            ratio[f'{clock}_turns'] = [c / e for c, e in pairs]
        ratio['graphs_compiled_while_timed'] = compiled[name]['graphs_compiled_while_timed']
        ratios[name] = ratio
    return ratios


def compile_table(eager: Dict[str, Dict], compiled: Dict[str, Dict],
                  ratios: Dict[str, Dict]) -> str:
    """Eager and compiled throughput of each variant, compiled/eager (min/med/max over turns)."""
    lines = [f"{'variant':<12} {'eager/s':>8} {'compiled/s':>10} {'wall c/e':>9} "
             f"{'cpu c/e':>8} {'cpu c/e min/med/max':>22}"]
    for name, r in ratios.items():
        turns = r['cpu_turns']
        lines.append(f"{name:<12} {eager[name]['samples_per_s']:>8.1f} "
                     f"{compiled[name]['samples_per_s']:>10.1f} {r['wall']:>9.3f} "
                     f"{r['cpu']:>8.3f} {min(turns):>7.3f}{statistics.median(turns):>7.3f}"
                     f"{max(turns):>7.3f}")
    return '\n'.join(lines)


def summarise(settings: Dict, runs: Dict[str, List[Dict]], rounds: int,
              compiled_runs: Optional[Dict[str, List[Dict]]] = None) -> Dict:
    """The report of the turns in ``runs`` (``rounds`` of them complete): ``settings`` (what
    was asked), medians over the turns, each turn's figures and its paired ratios, the table.
    ``compiled_runs``: the same variants timed with ``compile``, reported against ``runs``."""
    results = {name: turn_medians(turns) for name, turns in runs.items()}
    report = dict(
        config=settings['config'], batch_size=settings['batch_size'], iters=settings['iters'],
        skip=settings['skip'], rounds=rounds, rounds_asked=settings['rounds'],
        amp=settings['amp'],
        device=(torch.cuda.get_device_name() if torch.cuda.is_available()
                else f'CPU ({platform.processor() or platform.machine()}, '
                     f'{torch.get_num_threads()} threads)'),
        torch=torch.__version__, results=results, table=ratio_table(results),
        turn_ratios=turn_ratios(results), loadavg=os.getloadavg())
    if compiled_runs:
        compiled = {}
        for name, turns in compiled_runs.items():
            compiled[name] = dict(turn_medians(turns), graphs_compiled_while_timed=sum(
                t['graphs_compiled_while_timed'] for t in turns))
        ratios = compile_ratios(results, compiled)
        report.update(compile=settings['compile'], compiled=compiled, compile_ratios=ratios,
                      compile_table=compile_table(results, compiled, ratios))
    return report


def run_speed_benchmark(base: Config, variants: Sequence[str], iters: int, skip: int,
                        rounds: int, work_dir: str, amp: bool = False,
                        out: Optional[str] = None, config: Optional[str] = None,
                        compile: bool = False) -> Dict:
    """Time every variant of ``base`` for ``rounds`` interleaved turns of ``skip`` untimed and
    ``iters`` timed iterations; the runs write to ``work_dir``. ``out`` (JSON) is rewritten
    after every variant's turn: a long run that is stopped keeps what it measured. ``config``
    names ``base`` in the report (default: its file name). ``compile``: each variant's turn is
    timed eagerly and then with MMEngine's ``compile`` (``base.compile`` if set, else True),
    the compilation falling in the ``skip`` iterations."""
    check_iters(variants, iters)
    compile_cfg = (base.get('compile') or True) if compile else None
    settings = dict(config=config or base.filename, batch_size=base.train_dataloader.batch_size,
                    iters=iters, skip=skip, rounds=rounds, amp=amp, compile=compile_cfg)
    runs: Dict[str, List[Dict]] = {name: [] for name in variants}
    compiled_runs: Dict[str, List[Dict]] = {name: [] for name in variants} if compile else {}

    def timed(turn: int, name: str, compile_option: Union[bool, dict, None]) -> Dict:
        cfg = variant_config(base, name, work_dir, skip + iters, amp, skip=skip,
                             compile=compile_option)
        result = measure(cfg, skip)
        how = '' if compile_option is None else ('compiled ' if compile_option else 'eager    ')
        print(f'round {turn + 1}/{rounds} {name:<12} {how}'
              f"{result['samples_per_s']:.1f} samples/s", flush=True)
        return result

    for turn in range(rounds):
        for name in variants:
            runs[name].append(timed(turn, name, False if compile else None))
            if compile:
                torch._dynamo.reset()  # fresh Dynamo caches, as in a process of its own
                compiled_runs[name].append(timed(turn, name, compile_cfg))
            # what is measured so far is kept should the run be stopped (a long CPU run of a
            # large model): the rounds done, and the variants of the round under way
            report = summarise(settings, {k: v for k, v in runs.items() if v},
                               min(len(v) for v in runs.values()),
                               {k: v for k, v in compiled_runs.items() if v})
            if out:
                os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
                with open(out, 'w') as f:
                    json.dump(report, f, indent=2)
    return report


# -- command line ---------------------------------------------------------------------------

def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='MMEngine config; default: small conv net')
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS), help='rows of benchmarks/variants.py')
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
