"""What ``make demo`` runs (``python -m benchmarks.demo``): the three questions a user of the
plugin has, each answered by real runs through MMEngine's Runner, the variants of each part from
the same initial weights, seeds fixed (a rerun on the same machine prints the same accuracies;
another CPU or torch build may round differently):

1. ``digits`` -- what does SAM buy, and what does AUSAM keep of it? The label-noise study of
   :mod:`.label_noise` at its default settings, seed 0: scikit-learn's digits, 30 % symmetric
   label noise on the training split only, accuracy on the clean held-out test split, for the
   base optimizer, SAM, AUSAM 0.5 and random-subset SAM 0.5 (the comparison at equal cost).
2. ``qat`` -- does it hold under quantization-aware training? The same with the model quantized
   by ``BrevitasQATModel`` (W4A4, first and last layer 8 bits: ``qat='w4a4'``).
3. ``pose`` -- with LSPET at ``data/lspet`` (or ``--lsp-root``): a small version of the pose
   study (:mod:`.pose_study`), held-out PCK for the base optimizer, SAM, AUSAM 0.5 and random
   0.5. Without it: ``configs/demo/tiny_pose_coco.py`` through ``tools/train.py``'s config
   handling, the mechanism only (passes per sample, CPU time per step, the training loss), and
   the study's measured result from ``results/pose_lspet.json``. No accuracy is measured on
   training images.

The costs are per step: the median process CPU time of a training step after the first epoch,
with its 25th-75th percentile, so that a rerun or another machine keeps the order the passes
imply. Each part gives a table and one sentence computed from its numbers; :func:`run_demo`
runs the parts, draws one PNG and gives the text. No download.

Usage::

    from benchmarks.demo import run_demo
    report = run_demo('work_dirs/demo')            # prints its progress
    print(report['text'])

Command line (from the repository root)::

    python -m benchmarks.demo                                       # what `make demo` runs
    python -m benchmarks.demo --parts pose --work-dir /tmp/demo     # one part
    python -m benchmarks.demo --digits-epochs 2 --pose-epochs 3     # a quick look at the output
    python -m benchmarks.demo --parts pose --lsp-root /path/to/lspet  # held-out pose
"""
import argparse
import contextlib
import io
import json
import os.path as osp
import shlex
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner, find_latest_checkpoint

from ausam_mm.cli.train import load_config, parse_args
from .label_noise import register_backbone, run_config, run_one, study_settings
from .plots import DemoPanel, plot_demo
from .pose_study import CONFIG as POSE_STUDY_CONFIG
from .pose_study import run_study as run_pose_study
from .pose_study import study_settings as study_settings_pose
from .throughput import PassCounter, StepTimes
from .variants import VARIANTS, train_args

PARTS = ('digits', 'qat', 'pose')
DIGITS_VARIANTS = ['base', 'sam', 'ausam_0.5', 'random_0.5']
POSE_VARIANTS = ['base', 'sam', 'ausam_0.5']
NOISE = 0.3  # the share of wrong training labels in the digits parts
SEED = 0  # the digits parts' seed: initial weights, noise pattern, batches (the study's first)
QAT = 'w4a4'
POSE_CONFIG = 'configs/demo/tiny_pose_coco.py'
POSE_SETTINGS = dict(rho=0.01)  # the SAM radius of both SAM runs of the mechanism
#: the pose study's result that part 3 prints without LSPET, and the held-out part's size
POSE_STUDY = 'results/pose_lspet.json'
LSP_DEMO = dict(train_size=400, test_size=200, epochs=5)
LSP_VARIANTS = ['base', 'sam', 'ausam_0.5', 'random_0.5']
LSP_DEFAULT = 'data/lspet'  # MMPose's layout; --lsp-root names another folder


class RunRecorder(Hook):
    """What the demo reports of a run besides its speed: the loss of every iteration, the
    initial weights, the evaluation metrics and the log file."""

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        self.losses: List[float] = []
        self.iters_per_epoch = len(runner.train_dataloader)
        self.initial = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
        self.log_file = runner.logger.log_file
        self.metrics: Dict[str, float] = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.losses.append(outputs['loss'].item())

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics = dict(metrics or {})

    def epoch_loss(self, epoch: int) -> float:
        """Mean training loss of one epoch (``-1``: the last)."""
        chunks = [self.losses[i:i + self.iters_per_epoch]
                  for i in range(0, len(self.losses), self.iters_per_epoch)]
        return sum(chunks[epoch]) / len(chunks[epoch])


def check_same_start(recorders: Sequence[RunRecorder]) -> None:
    """Raise unless every run started from the first run's weights (else no comparison)."""
    first = recorders[0].initial
    for recorder in recorders[1:]:
        if not all(torch.equal(first[k], recorder.initial[k]) for k in first):
            raise RuntimeError('the runs of a part did not start from the same initial weights')


def console(verbose: bool):
    """Where MMEngine's console output goes during a run: shown only if ``verbose`` (it is in
    the run's log either way; the logger binds its console stream when the run creates it)."""
    return contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())


def shown(path: str) -> str:
    """``path`` as the demo prints it: relative if under the current folder."""
    here = osp.abspath('.') + osp.sep
    return osp.relpath(path) if osp.abspath(path).startswith(here) else path


def python() -> str:
    """The interpreter, as a rerun command names it."""
    return shown(sys.executable)


# -- parts 1 and 2: digits under label noise, float and QAT -----------------------------------

def digits_part(work_dir: str, qat: Optional[str] = None, epochs: Optional[int] = None,
                variants: Sequence[str] = DIGITS_VARIANTS, verbose: bool = False,
                log: Callable[[str], None] = print) -> Dict:
    """Train ``variants`` on the noisy digits (quantized if ``qat``, e.g. ``'w4a4'``), seed
    :data:`SEED`, the study's default settings but ``epochs``; test on the clean split."""
    register_backbone()
    settings = study_settings('digits', epochs=epochs, qat=qat)
    rows, recorders = [], []
    for variant in variants:
        cfg = run_config('digits', variant, NOISE, SEED, osp.join(work_dir, variant), settings)
        cfg.log_level = 'INFO'  # the run's log file gets MMEngine's log
        recorder, steps = RunRecorder(), StepTimes(skip_epochs=min(1, settings['epochs'] - 1))
        with console(verbose):
            result = run_one(cfg, hooks=[recorder, steps])
        recorders.append(recorder)
        rows.append(dict(variant=variant, acc=100 * result['test_acc'],
                         cpu_s=result['train_cpu_s'], wall_s=result['train_time_s'],
                         noisy_fit=100 * result['noisy_fit'], log=recorder.log_file,
                         step=steps.summary()))
        log(f"[demo] {'digits QAT ' + qat.upper() if qat else 'digits'}: "
            f"{VARIANTS[variant].label}: held-out accuracy {rows[-1]['acc']:.2f} %, "
            f"{1e3 * rows[-1]['step']['median']:.1f} CPU ms per step")
    check_same_start(recorders)
    base = rows[0]
    for row in rows:
        row['vs_base'] = row['acc'] - base['acc']
        row['cost'] = row['step']['median'] / base['step']['median']
    argv = ['-m', 'benchmarks.label_noise', '--noise', f'{NOISE:g}', '--seeds', str(SEED),
            '--variants', *variants, '--work-dir', work_dir]
    if qat:
        argv += ['--qat', qat]
    if epochs is not None:
        argv += ['--epochs', str(epochs)]
    task = f'QAT {qat.upper()}' if qat else 'float'
    reading = digits_reading(rows, f'Under {qat.upper()} QAT, ' if qat else '')
    return dict(task=task, rows=rows, settings=settings, reading=reading,
                table=digits_table(rows), rerun=[python(), *argv])


def share_of(gain: float, sam_gain: float) -> str:
    """How much of SAM's gain over the base optimizer a variant's ``gain`` is, in words."""
    if gain > sam_gain:
        return f'all of it and more ({gain:+.1f} pt over the base optimizer)'
    if gain == sam_gain:
        return f'all of it ({gain:+.1f} pt over the base optimizer)'
    if gain <= 0:
        return f'none of it ({gain:+.1f} pt against the base optimizer)'
    return f'{100 * gain / sam_gain:.0f} % of it ({gain:+.1f} pt)'


def digits_reading(rows: List[Dict], context: str = '') -> str:
    """One sentence from a digits part's numbers (rows: base, SAM, then the subset variants),
    after ``context`` (e.g. ``'Under W4A4 QAT, '``)."""
    by = {r['variant']: r for r in rows}
    sam = by['sam']
    subsets = [r for r in rows if r['variant'] not in ('base', 'sam')]
    if sam['vs_base'] > 0:
        kept = ', '.join(f"{VARIANTS[r['variant']].label} kept "
                         f"{share_of(r['vs_base'], sam['vs_base'])} at {r['cost']:.2f}x"
                         for r in subsets)
        return (f"{context}SAM gained {sam['vs_base']:.1f} pt of held-out accuracy over the base "
                f"optimizer at {sam['cost']:.2f}x its CPU time per step; {kept}"
                f"{scores_against_random(by)}{costs_within_spread(subsets)}.")
    others = ', '.join(f"{VARIANTS[r['variant']].label} {r['vs_base']:+.1f} pt at "
                       f"{r['cost']:.2f}x" for r in subsets)
    return (f"{context}SAM did not help in this run ({sam['vs_base']:+.1f} pt against the base "
            f"optimizer at {sam['cost']:.2f}x its CPU time per step); {others}"
            f"{scores_against_random(by)}{costs_within_spread(subsets)}.")


def costs_within_spread(rows: List[Dict]) -> str:
    """Says when the subset variants' per-step costs lie within each other's spread (their
    25th-75th percentile ranges overlap): no difference between them is then claimed."""
    timed = [r for r in rows if 'step' in r]
    if len(timed) < 2:
        return ''
    low = max(r['step']['p25'] for r in timed)
    high = min(r['step']['p75'] for r in timed)
    if low > high:
        return ''
    names = ' and '.join(VARIANTS[r['variant']].label for r in timed)
    return f"; the per-step costs of {names} lie within each other's spread"


def scores_against_random(by: Dict[str, Dict]) -> str:
    """AUSAM 0.5 against random-subset SAM of the same size, as the end of a reading."""
    if 'ausam_0.5' not in by or 'random_0.5' not in by:
        return ''
    diff = by['ausam_0.5']['vs_base'] - by['random_0.5']['vs_base']
    if round(diff, 1) == 0:
        return "; AUSAM's scores did as well as a random subset of the same size"
    return (f"; AUSAM's scores did {abs(diff):.1f} pt {'better' if diff > 0 else 'worse'} "
            'than a random subset of the same size')


#: the per-step cost columns of the demo's tables (:func:`cost_cells`)
COST_HEADER = f"{'CPU ms/step':>11} {'p25-p75 ms':>13} {'x base':>6}"


def cost_cells(row: Dict, digits: int = 2) -> str:
    """A row's median CPU time per step, its 25th-75th percentile and its ratio to the base's."""
    step = {k: 1e3 * v for k, v in row['step'].items() if k != 'steps'}
    spread = f"{step['p25']:.{digits}f}-{step['p75']:.{digits}f}"
    return f"{step['median']:>11.{digits}f} {spread:>13} {row['cost']:>6.2f}"


def digits_table(rows: List[Dict]) -> str:
    lines = [f"{'run':<16} {'held-out acc %':>14} {'vs base, pt':>11} {'wrong labels fit %':>18} "
             + COST_HEADER]
    for r in rows:
        lines.append(f"{VARIANTS[r['variant']].label:<16} {r['acc']:>14.2f} "
                     f"{r['vs_base']:>+11.2f} {r['noisy_fit']:>18.1f} {cost_cells(r)}")
    return '\n'.join(lines)


# -- part 3: pose ----------------------------------------------------------------------------

def pose_command(variant: str, work_dir: str, epochs: Optional[int]) -> List[str]:
    """The ``tools/train.py`` arguments of one pose run of the mechanism (no evaluation)."""
    argv = [POSE_CONFIG, '--work-dir', osp.join(work_dir, variant), '--no-validate',
            *train_args(variant, **POSE_SETTINGS)]
    if epochs is not None:
        argv += ['--cfg-options', f'train_cfg.max_epochs={epochs}',
                 f'default_hooks.checkpoint.interval={epochs}']
    return argv


def pose_run(variant: str, work_dir: str, epochs: Optional[int], verbose: bool = False) -> Dict:
    """Train one variant through tools/train.py's config handling; what the table needs."""
    argv = pose_command(variant, work_dir, epochs)
    cfg, _ = load_config(parse_args(argv))
    cfg.experiment_name = f'demo_{variant}_{time.time_ns()}'  # one process, three runs: own logs
    cfg.visualizer.name = cfg.experiment_name  # and their own visualizer (MMPose names it)
    recorder, steps, passes = RunRecorder(), StepTimes(skip_epochs=1), PassCounter(1)
    runner = Runner.from_cfg(cfg)
    for hook in (recorder, steps, passes):
        runner.register_hook(hook)
    with console(verbose):
        runner.train()
    seen = len(runner.train_dataloader.dataset) * (runner.max_epochs - 1)
    # timed after the first epoch: AUSAM's warm-up epoch is full SAM, scoring every sample
    return dict(variant=variant, recorder=recorder, passes=passes.forwarded / seen,
                step=steps.summary(), first_loss=recorder.epoch_loss(0),
                last_loss=recorder.epoch_loss(-1), log=recorder.log_file,
                checkpoint=find_latest_checkpoint(cfg.work_dir),
                rerun=[python(), 'tools/train.py', *argv])


def pose_part(work_dir: str, epochs: Optional[int] = None,
              variants: Sequence[str] = POSE_VARIANTS, verbose: bool = False,
              lsp_root: Optional[str] = None, study: str = POSE_STUDY,
              log: Callable[[str], None] = print) -> Dict:
    """With LSPET at ``lsp_root``: a small held-out version of the pose study. Without it: the
    demo pose config trained once per variant (the same initial weights), the mechanism only
    (passes, time per step, training loss), and the study's measured result from ``study``."""
    if lsp_root is not None:
        return pose_held_out(work_dir, lsp_root, epochs, log)
    rows = []
    for variant in variants:
        rows.append(pose_run(variant, work_dir, epochs, verbose))
        r = rows[-1]
        log(f"[demo] pose: {VARIANTS[variant].label}: {len(r['recorder'].losses)} steps, "
            f"loss {r['first_loss']:.2e} -> {r['last_loss']:.2e}")
    check_same_start([r['recorder'] for r in rows])
    base = rows[0]
    for row in rows:
        row['cost'] = row['step']['median'] / base['step']['median']
    return dict(rows=rows, reading=pose_reading(rows), table=pose_table(rows),
                study=study_lines(study))


def pose_reading(rows: List[Dict]) -> str:
    """One sentence from the mechanism's numbers."""
    by = {r['variant']: r for r in rows}
    sam, ausam = by['sam'], by['ausam_0.5']
    fell = [r for r in rows if r['last_loss'] < r['first_loss']]
    if len(fell) == len(rows):
        learned = (f"every run's training loss fell from its first epoch to its last "
                   f"({min(r['first_loss'] / r['last_loss'] for r in rows):.1f}x or more)")
    else:
        learned = ('the training loss did not fall from the first epoch to the last for '
                   + ', '.join(VARIANTS[r['variant']].label for r in rows if r not in fell))
    ratio = ausam['step']['median'] / sam['step']['median']
    return (f"pose: AUSAM 0.5 ran {ausam['passes']:.2f} forward+backward passes per sample to "
            f"SAM's {sam['passes']:.2f} and took {ratio:.2f}x SAM's CPU time per step; "
            f"{learned}. These runs measure no accuracy: the study below does, on held-out "
            'images.')


def pose_table(rows: List[Dict]) -> str:
    lines = [f"{'run':<16} {'passes/sample':>13} {COST_HEADER} {'loss, first -> last epoch':>25}"]
    for r in rows:
        loss = f"{r['first_loss']:.2e} -> {r['last_loss']:.2e}"
        lines.append(f"{VARIANTS[r['variant']].label:<16} {r['passes']:>13.2f} "
                     f"{cost_cells(r, 1)} {loss:>25}")
    return '\n'.join(lines)


def study_lines(path: str) -> List[str]:
    """The pose study's measured result (held-out PCK on LSPET), labelled as the study's."""
    if not osp.isfile(path):
        return [f'(the pose study has no result file here: {path}; '
                f'python -m benchmarks.pose_study --out {path} makes it)']
    with open(path) as f:
        study = json.load(f)
    rows = study['summary']
    seeds = sorted({r['seed'] for r in study['runs']})
    text = ', '.join(f"{VARIANTS[v].label} {100 * r['pck_0_2_mean']:.1f} %"
                     for v, r in rows.items())
    settings = study['settings']
    return [f"The pose study ({path}): held-out PCK@0.2 on LSPET (Johnson and Everingham, CVPR "
            f"2011), {settings['train_size']} training and {settings['test_size']} held-out "
            f"images, {len(seeds)} seeds: {text} (mean pose in the box: "
            f"{100 * study['floor']['pck_0_2']:.1f} %). Rerun: python -m benchmarks.pose_study "
            f"--data-root LSPET_FOLDER --out {path} (docs/benchmarks.md, \"Pose on LSPET\")."]


def pose_held_out(work_dir: str, lsp_root: str, epochs: Optional[int],
                  log: Callable[[str], None] = print) -> Dict:
    """The pose study at the demo's size: one seed, :data:`LSP_DEMO` images and epochs."""
    sizes = dict(LSP_DEMO, **({} if epochs is None else dict(epochs=epochs)))
    settings = study_settings_pose(lsp_root, **sizes)
    report = run_pose_study(settings, LSP_VARIANTS, [SEED], work_dir=work_dir)
    rows = []
    for run in report['runs']:
        rows.append(dict(variant=run['variant'], pck2=100 * run['pck_0_2'],
                         pck1=100 * run['pck_0_1'], passes=run['passes_per_sample'],
                         cpu_s=run['train_cpu_s'], log=''))
        log(f"[demo] pose: {VARIANTS[run['variant']].label}: held-out PCK@0.2 "
            f"{rows[-1]['pck2']:.1f} %")
    base = rows[0]
    for row in rows:
        row['cost'] = row['cpu_s'] / base['cpu_s']
    lines = [f"{'run':<16} {'PCK@0.2 %':>9} {'PCK@0.1 %':>9} {'passes/sample':>13} "
             f"{'train CPU s':>11}"]
    for r in rows:
        lines.append(f"{VARIANTS[r['variant']].label:<16} {r['pck2']:>9.1f} {r['pck1']:>9.1f} "
                     f"{r['passes']:>13.2f} {r['cpu_s']:>11.1f}")
    floor = report['floor']
    reading = (f"pose, held out: {settings['train_size']} training and {settings['test_size']} "
               f"held-out LSPET images, {settings['epochs']} epochs, seed {SEED}; the mean pose "
               f"in the box scores {100 * floor['pck_0_2']:.1f} %. A small version of the study "
               '(docs/benchmarks.md): one seed decides nothing.')
    return dict(rows=rows, reading=reading, table='\n'.join(lines), held_out=True,
                settings=settings)


# -- the three parts --------------------------------------------------------------------------

def run_demo(work_dir: str, parts: Sequence[str] = PARTS, digits_epochs: Optional[int] = None,
             pose_epochs: Optional[int] = None, verbose: bool = False,
             lsp_root: Optional[str] = None, log: Callable[[str], None] = print) -> Dict:
    """Run ``parts`` (of :data:`PARTS`) into ``work_dir``: their results, the PNG and the text
    (tables, readings, timings, logs and rerun commands). ``digits_epochs`` (default: the
    study's 30) and ``pose_epochs`` (default: the config's) make a quicker, rougher run;
    ``lsp_root`` (LSPET's folder) makes the pose part a held-out one."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise ValueError(f'parts must be some of {list(PARTS)}, got {list(parts)}')
    start, cpu_start = time.perf_counter(), time.process_time()
    results, timings = {}, {}
    for part in PARTS:
        if part not in parts:
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        if part == 'pose':
            results[part] = pose_part(osp.join(work_dir, 'pose'), pose_epochs, verbose=verbose,
                                      lsp_root=lsp_root, log=log)
        else:
            results[part] = digits_part(osp.join(work_dir, part), QAT if part == 'qat' else None,
                                        digits_epochs, verbose=verbose, log=log)
        timings[part] = (time.perf_counter() - wall, time.process_time() - cpu)
    png = plot_demo(demo_panels(results), osp.join(work_dir, 'demo.png'))
    timings['total'] = (time.perf_counter() - start, time.process_time() - cpu_start)
    return dict(results=results, png=png, timings=timings,
                text=demo_text(results, png, timings))


def demo_panels(results: Dict[str, Dict]) -> List[DemoPanel]:
    panels = []
    for part, result in results.items():
        if part == 'pose' and result.get('held_out'):
            panels.append(DemoPanel('pose, LSPET: held-out PCK@0.2 (one seed)',
                                    [(r['variant'], r['cost'], r['pck2'])
                                     for r in result['rows']], 'held-out PCK@0.2 %'))
        elif part == 'pose':
            panels.append(DemoPanel('pose (tiny_pose_coco): passes per sample',
                                    [(r['variant'], r['cost'], r['passes'])
                                     for r in result['rows']],
                                    'forward+backward passes per sample'))
        else:
            panels.append(DemoPanel(f"digits, {100 * NOISE:g} % wrong labels, {result['task']}",
                                    [(r['variant'], r['cost'], r['acc']) for r in result['rows']],
                                    'held-out accuracy %'))
    return panels


def demo_text(results: Dict[str, Dict], png: str, timings: Dict[str, tuple]) -> str:
    """What the demo prints at the end."""
    out = []
    digits = [results[p] for p in ('digits', 'qat') if p in results]
    for number, result in enumerate(digits, 1):
        settings = result['settings']
        if number == 1:
            out.append(f"\n{number}. What does SAM buy, and what does AUSAM keep of it? digits "
                       f"(scikit-learn, real 8x8 scans), {100 * NOISE:g} % of the training labels "
                       f"wrong, accuracy on the clean held-out half; {settings['epochs']} "
                       f"epochs of SGD, rho {settings['rho']:g}, seed {SEED}:")
        else:
            bits = settings['qat']
            out.append(f"\n{number}. Does it hold under quantization-aware training? The same, "
                       f"the model quantized by BrevitasQATModel: weights "
                       f"{bits['weight_bit_width']} bits, layer inputs {bits['act_bit_width']} "
                       f"bits (first and last layer {bits['first_last_bit_width']}):")
        out += [result['table'], result['reading']]
    if digits:
        out.append('(CPU ms/step: the median process CPU time of a training step after the '
                   'first epoch, data loading included, with its 25th-75th percentile; x base: '
                   'the median against the base optimizer\'s. Wrong labels fit: the share of the '
                   'mislabelled training images the final model predicts with their wrong '
                   'label. On a net this small the per-step work that a subset does not shrink '
                   'keeps AUSAM above half of SAM\'s cost; part 3 and docs/benchmarks.md show '
                   'the passes halve)')
    if 'pose' in results:
        pose = results['pose']
        if pose.get('held_out'):
            out += [f"\n{len(digits) + 1}. Does it generalise on a real pose dataset? LSPET, "
                    f"the study's model ({POSE_STUDY_CONFIG}), the base optimizer (Adam), SAM, "
                    f"AUSAM 0.5 and random 0.5 (rho {pose['settings']['rho']:g}):",
                    pose['table'], pose['reading']]
        else:
            out += [f"\n{len(digits) + 1}. Does it run on an MMPose model? {POSE_CONFIG}, "
                    f"the base optimizer (Adam), SAM and AUSAM 0.5 (rho {POSE_SETTINGS['rho']}):",
                    pose['table'], pose['reading'],
                    '(per step: after the first epoch, AUSAM\'s full-SAM warm-up; loss: mean '
                    'training loss of the epoch, AUSAM\'s on the samples it drew. Each AUSAM '
                    'step trains on the half of the batch it draws. With LSPET at data/lspet, '
                    'or --lsp-root, this part measures held-out accuracy instead)',
                    *pose['study']]
    out.append(f'\n[demo] figure: {png}')
    for part, result in results.items():
        for r in result['rows']:
            if r.get('log'):
                out.append(f"[demo] {part} {r['variant']}: log {shown(r['log'])}")
        if part == 'pose' and not result.get('held_out'):
            for r in result['rows']:
                out.append(f"[demo] pose {r['variant']}: rerun {shlex.join(r['rerun'])}")
        elif part != 'pose':
            out.append(f"[demo] {part}: rerun {shlex.join(result['rerun'])}")
    spent = ', '.join(f'{part} {wall:.0f} s ({cpu:.0f} CPU s)'
                      for part, (wall, cpu) in timings.items() if part != 'total')
    wall, cpu = timings['total']
    out.append(f'[demo] wall time {wall:.0f} s ({cpu:.0f} CPU s): {spent}')
    return '\n'.join(out)


# -- command line ---------------------------------------------------------------------------


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
    parser.add_argument('--lsp-root', default=None,
                        help='LSPET (joints.mat, images/): part 3 trains on it and scores '
                        f'held-out images (default: {LSP_DEFAULT} when it holds the dataset)')
    parser.add_argument('--verbose', action='store_true',
                        help="show MMEngine's console output of the runs (it is in their logs)")
    args = parser.parse_args(argv)
    if args.lsp_root is None and osp.isfile(osp.join(LSP_DEFAULT, 'joints.mat')):
        args.lsp_root = LSP_DEFAULT
    start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    print('[demo] three parts, each run from the same initial weights as the others of its '
          'part, seeds fixed: ' + ', '.join(args.parts), flush=True)
    report = run_demo(args.work_dir, args.parts, args.digits_epochs, args.pose_epochs,
                      args.verbose, args.lsp_root)
    print(report['text'])
    print(f'[demo] the whole command: {time.perf_counter() - start:.0f} s of wall time, '
          f'{time.process_time():.0f} s of CPU time')
    return report


if __name__ == '__main__':
    main()
