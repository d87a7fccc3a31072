"""The benchmarks and plots (``benchmarks``) on real objects: digits label noise, tiny
real Runner runs, the JSON they write, the PNGs drawn from them, and the ``ausam/*`` scalars
reaching MMEngine's visualizer backends; the tools' command lines in processes of their own."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import toy  # noqa: F401  (registers ToyConvNet, ToyImageDataset)
from conftest import ROOT, needs_compile, toy_runner_cfg

pytest.importorskip('sklearn', reason='the accuracy benchmark needs scikit-learn (.[bench])')
from benchmarks import label_noise, plots  # noqa: E402
from benchmarks.label_noise import earlier_runs, run_study, study_settings  # noqa: E402
from benchmarks.speed import run_speed_benchmark  # noqa: E402
from benchmarks.synthetic import small_convnet_config, write_class_images  # noqa: E402

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def run_tool(module, *argv):
    """``python -m benchmarks.<module> <argv>`` from the repository root, in a process of its
    own, as the docs run it."""
    return subprocess.run([sys.executable, '-m', f'benchmarks.{module}', *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_symmetric_noise_flips_exactly_the_rate_to_other_classes_uniformly():
    _, labels, _, _ = label_noise.digits_split(0.5, 0)
    noisy, flipped = label_noise.symmetric_noise(labels, 0.3, 10, seed=3)
    changed = np.flatnonzero(noisy != labels)
    assert len(changed) == round(0.3 * len(labels))  # exactly 30 %, no flip lands on itself
    assert np.array_equal(changed, flipped)
    # symmetric: the new class is uniform over the 9 others, whatever the true class
    shift = (noisy[flipped] - labels[flipped]) % 10
    counts = np.bincount(shift, minlength=10)[1:]
    expected = len(flipped) / 9
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 26.1  # chi-square, 8 dof, p = 0.001
    # the flips are spread over the true classes in proportion to them
    per_class = np.bincount(labels[flipped], minlength=10) / np.bincount(labels, minlength=10)
    assert per_class.min() > 0.15 and per_class.max() < 0.45
    again, _ = label_noise.symmetric_noise(labels, 0.3, 10, seed=3)
    assert np.array_equal(again, noisy)
    other, _ = label_noise.symmetric_noise(labels, 0.3, 10, seed=4)
    assert not np.array_equal(other, noisy)


def test_digits_dataset_keeps_test_labels_clean_and_splits_fixed():
    train = label_noise.DigitsDataset('train', noise=0.3, noise_seed=0)
    test = label_noise.DigitsDataset('test', noise=0.3, noise_seed=0)
    clean = label_noise.DigitsDataset('train')
    assert len(train) + len(test) == 1797
    assert np.array_equal(test.labels.numpy(), test.clean_labels) and len(test.flipped) == 0
    assert np.array_equal(clean.inputs.numpy(), train.inputs.numpy())
    assert (train.labels != clean.labels).float().mean().item() == pytest.approx(0.3, abs=1e-3)
    item = train[int(train.flipped[0])]
    assert item['inputs'].shape == (1, 8, 8) and 0 <= float(item['inputs'].max()) <= 1
    assert int(item['data_samples'].gt_label) == int(train.labels[int(train.flipped[0])])


@pytest.fixture(scope='module')
def accuracy_report(tmp_path_factory):
    """A tiny real run of the accuracy benchmark (2 seeds, 2 epochs, 30 % noise)."""
    root = tmp_path_factory.mktemp('accuracy')
    out = root / 'accuracy.json'
    settings = study_settings('digits', epochs=2, batch_size=128, width=4)
    report = run_study('digits', ['base', 'ausam_0.5'], noise=[0.3], seeds=[0, 1],
                       settings=settings, work_dir=str(root / 'runs'), out=str(out),
                       log_interval=1)
    return report, out, root


def test_accuracy_benchmark_writes_runs_summary_and_table(accuracy_report):
    report, out, root = accuracy_report
    saved = json.loads(out.read_text())
    assert saved['summary'] == report['summary']
    assert len(saved['runs']) == 4
    for run in saved['runs']:
        assert 0 < run['test_acc'] <= 1 and run['train_time_s'] > 0 and run['train_cpu_s'] > 0
        assert 0 <= run['noisy_fit'] <= 1
    rows = saved['summary']['0.3']
    assert set(rows) == {'base', 'ausam_0.5'}
    accs = [r['test_acc'] for r in saved['runs'] if r['variant'] == 'base']
    assert rows['base']['acc_mean'] == pytest.approx(np.mean(accs))
    assert rows['base']['acc_std'] == pytest.approx(np.std(accs, ddof=1))
    assert saved['settings']['train_size'] == 898 and saved['settings']['ramp_epochs'] == 0.3
    assert 'ausam_0.5' in saved['table'] and '0.3' in saved['table']
    # the AUSAM runs kept what the selection plot reads; the base runs no checkpoint
    ausam_dir = root / 'runs' / 'ausam_0.5_noise0.3_seed0'
    assert (ausam_dir / 'last_checkpoint').is_file() and (ausam_dir / 'flipped.json').is_file()
    assert not (root / 'runs' / 'base_noise0.3_seed0' / 'last_checkpoint').exists()


def test_selection_plot_reads_history_and_scalars_of_an_ausam_run(accuracy_report):
    _, _, root = accuracy_report
    work_dir = str(root / 'runs' / 'ausam_0.5_noise0.3_seed0')
    adlp, count = plots.read_history(work_dir)
    # warm-up epoch: every sample posted once; epoch 2: half of each candidate batch
    assert len(count) == 898 and count.min() == 1
    assert count.sum() == 898 + sum(subset_sizes(898, 128, 0.5))
    assert np.isfinite(adlp).all() and (adlp >= 0).all()
    assert plots.read_flipped(work_dir, 898).sum() == round(0.3 * 898)
    f_max = [r['ausam/f_max'] for r in plots.read_scalars(work_dir) if 'ausam/f_max' in r]
    assert f_max and max(f_max) == pytest.approx(0.5)  # the ramp (0.3 epochs) is over
    png = plots.plot_selection(work_dir, str(root / 'selection.png'))
    with open(png, 'rb') as f:
        assert f.read(8) == PNG_MAGIC


def subset_sizes(n, batch, ratio):
    """floor(ratio * b) (at least 1) of every candidate batch of an epoch of n samples."""
    sizes = [batch] * (n // batch) + ([n % batch] if n % batch else [])
    return [max(1, int(ratio * b)) for b in sizes]


def test_speed_accuracy_plot_from_both_benchmarks_json(accuracy_report, tmp_path):
    _, accuracy_json, _ = accuracy_report
    speed_json = tmp_path / 'speed.json'
    write_class_images(str(tmp_path / 'images'))
    run_speed_benchmark(small_convnet_config(str(tmp_path / 'images'), batch_size=4),
                        ['base', 'ausam_0.5'], iters=2, skip=1, rounds=1,
                        work_dir=str(tmp_path / 'speed'), out=str(speed_json))
    speed = json.loads(speed_json.read_text())
    accuracy = json.loads(accuracy_json.read_text())
    x_of, label = plots.relative_speed(speed, accuracy, '0.3')
    assert x_of['base'] == 1.0 and x_of['ausam_0.5'] == pytest.approx(
        speed['results']['ausam_0.5']['samples_per_s'] / speed['results']['base']['samples_per_s'])
    assert 'throughput' in label
    res = speed['results']
    cpu_of, cpu_label = plots.relative_speed(speed, accuracy, '0.3', clock='cpu')
    assert cpu_of['ausam_0.5'] == pytest.approx(
        res['ausam_0.5']['samples_per_cpu_s'] / res['base']['samples_per_cpu_s'])
    assert 'CPU time' in cpu_label and 'CPU time' not in label
    assert speed['rounds'] == 1 and len(res['ausam_0.5']['samples_per_cpu_s_turns']) == 1
    # each turn's paired ratio; no SAM in this run, so no ratio to SAM
    assert speed['turn_ratios']['ausam_0.5'] == {
        'wall_vs_base': [pytest.approx(x_of['ausam_0.5'])],
        'cpu_vs_base': [pytest.approx(cpu_of['ausam_0.5'])]}
    with_speed = ['--speed', str(speed_json)]
    for speed_arg in (with_speed, [], with_speed + ['--clock', 'cpu']):
        out = tmp_path / f'sa{len(speed_arg)}.png'  # without speed: the runs' own times
        plots.plot_speed_accuracy(accuracy, speed if speed_arg else None, str(out),
                                  clock='cpu' if '--clock' in speed_arg else 'wall')
        assert out.read_bytes()[:8] == PNG_MAGIC


def test_speed_benchmark_refuses_timed_steps_that_split_an_interval():
    # SAM every 2 over 3 timed steps would time 2 SAM steps or 1: the ratio would be off
    proc = run_tool('speed', '--variants', 'base', 'sam_every_2', '--iters', '3')
    assert proc.returncode == 2
    assert "'sam_every_2' has interval=2, got --iters 3; use --iters 4" in proc.stderr


@needs_compile
def test_speed_benchmark_times_each_variant_eager_and_compiled(tmp_path):
    # backend='eager': Dynamo traces and guards as with inductor, without generating code
    write_class_images(str(tmp_path / 'images'), n=64)
    cfg = small_convnet_config(str(tmp_path / 'images'), batch_size=4)
    cfg.compile = dict(backend='eager')
    variants = ['base', 'sam', 'ausam_0.5']
    report = run_speed_benchmark(cfg, variants, iters=2, skip=2, rounds=1, compile=True,
                                 work_dir=str(tmp_path / 'speed'), out=str(tmp_path / 's.json'))
    saved = json.loads((tmp_path / 's.json').read_text())
    assert saved['compile'] == {'backend': 'eager'} and list(saved['compile_ratios']) == variants
    for name in variants:
        eager, compiled = saved['results'][name], saved['compiled'][name]
        ratios = saved['compile_ratios'][name]
        assert ratios['cpu'] == pytest.approx(
            compiled['samples_per_cpu_s'] / eager['samples_per_cpu_s'])
        assert ratios['wall_turns'] == [pytest.approx(
            compiled['samples_per_s'] / eager['samples_per_s'])]
        # the compilation fell in the skipped iterations; compiled, a step does the same passes
        assert ratios['graphs_compiled_while_timed'] == 0
        assert compiled['passes_per_sample'] == eager['passes_per_sample']
    assert 'compiled/s' in report['compile_table']


def test_logger_hook_carries_ausam_scalars_to_the_local_vis_backend(tmp_path):
    # no visualizer configured: the Runner's default one writes vis_data/ (LocalVisBackend)
    cfg = toy_runner_cfg(tmp_path, epochs=2, default_hooks=dict(
        logger=dict(type='LoggerHook', interval=1), checkpoint=None))
    assert 'visualizer' not in cfg
    Runner.from_cfg(Config(cfg)).train()
    records = plots.read_scalars(str(tmp_path))
    assert len(records) == 8  # 2 epochs x 4 iterations, one record per logged iteration
    keys = set().union(*records)
    assert {'ausam/selected', 'ausam/dlp_mean', 'ausam/coverage', 'ausam/f_max',
            'sam/grad_norm', 'sam/sharpness', 'loss'} <= keys
    selected = [r['ausam/selected'] for r in records]
    assert selected == [8] * 4 + [4] * 4  # warm-up epoch: full batches; then ratio 0.5
    assert [r['ausam/f_max'] for r in records if 'ausam/f_max' in r] == [0.5] * 4


def test_logger_hook_carries_ausam_scalars_to_tensorboard(tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    cfg = toy_runner_cfg(tmp_path, epochs=2, default_hooks=dict(
        logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='TensorboardVisBackend')]))
    Runner.from_cfg(Config(cfg)).train()
    event_dirs = [osp.dirname(p) for p in
                  map(str, tmp_path.glob('*/vis_data/**/events.out.tfevents*'))]
    assert event_dirs
    events = EventAccumulator(event_dirs[0])
    events.Reload()
    tags = set(events.Tags()['scalars'])
    assert {'ausam/selected', 'ausam/f_max', 'sam/grad_norm'} <= tags
    assert [e.value for e in events.Scalars('ausam/selected')] == [8] * 4 + [4] * 4


def test_mnist1d_is_generated_offline_in_the_default_split_and_leaves_global_rngs_alone():
    pytest.importorskip('mnist1d', reason='the MNIST-1D benchmark needs mnist1d (.[bench])')
    import random
    np_state, py_state = np.random.get_state(), random.getstate()
    train = label_noise.Mnist1dDataset('train', noise=0.2, noise_seed=1)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert random.getstate() == py_state
    test = label_noise.Mnist1dDataset('test')
    assert (len(train), len(test)) == (4000, 1000)  # the package's default split
    item = train[0]
    assert item['inputs'].shape == (1, 40) and item['inputs'].dtype == torch.float32
    assert sorted(np.unique(test.labels.numpy())) == list(range(10))
    assert (train.labels.numpy() != train.clean_labels).mean() == pytest.approx(0.2)
    again = label_noise.Mnist1dDataset('train')
    assert torch.equal(again.inputs, train.inputs)  # generated deterministically
    other = label_noise.Mnist1dDataset('train', num_samples=1000, data_seed=3)
    assert len(other) == 800 and not torch.equal(other.inputs[:10], train.inputs[:10])


def test_mnist1d_study_pairs_seeds_tests_ausam_against_random_and_keeps_runs(tmp_path):
    pytest.importorskip('mnist1d', reason='the MNIST-1D benchmark needs mnist1d (.[bench])')
    from scipy import stats
    out = tmp_path / 'mnist1d.json'
    settings = study_settings('mnist1d', num_samples=1000, epochs=2, width=4, batch_size=100)
    noise, seeds = [0.2], [0, 1, 2]
    first = run_study('mnist1d', ['ausam_0.5', 'random_0.5'], noise, seeds, settings,
                      out=str(out))
    assert first['dataset'] == 'mnist1d' and first['settings']['train_size'] == 500
    assert first['settings']['data'] == dict(num_samples=1000, train_split=0.5, data_seed=42)
    row = first['summary']['0.2']['ausam_0.5']
    pair = row['paired']['random_0.5']
    acc = {v: [r['test_acc'] for r in first['runs'] if r['variant'] == v]
           for v in ('ausam_0.5', 'random_0.5')}
    diffs = np.subtract(acc['ausam_0.5'], acc['random_0.5'])
    assert pair['n'] == 3 and pair['mean'] == pytest.approx(diffs.mean())
    if np.ptp(diffs) > 0:
        assert pair['t_test_p'] == pytest.approx(
            stats.ttest_rel(acc['ausam_0.5'], acc['random_0.5']).pvalue)
    assert first['summary']['0.2']['random_0.5']['paired'] == {}
    # a second invocation adds the base optimizer and keeps the subset runs as they were
    second = run_study('mnist1d', ['base', 'ausam_0.5', 'random_0.5'], noise, seeds, settings,
                       out=str(out), done=earlier_runs('mnist1d', settings, keep=str(out)))
    kept = [r for r in second['runs'] if r['variant'] != 'base']
    assert sorted(map(str, kept)) == sorted(map(str, first['runs']))
    assert len(second['runs']) == 9 and 'base' in second['summary']['0.2']['ausam_0.5']['paired']
    other = study_settings('mnist1d', num_samples=1000, epochs=2, width=4, batch_size=100,
                           lr=0.2)
    with pytest.raises(ValueError, match='--keep-runs'):
        earlier_runs('mnist1d', other, keep=str(out))
    # a parallel process ran another seed: --merge folds both files into one, running nothing
    part = tmp_path / 'seed3.json'
    third = run_study('mnist1d', ['base'], noise, [3], settings, out=str(part))
    merged = run_study('mnist1d', ['base'], noise, [0, 1, 2, 3], settings,
                       out=str(tmp_path / 'all.json'),
                       done=earlier_runs('mnist1d', settings, merge=[str(out), str(part)]))
    assert sorted(map(str, merged['runs'])) == sorted(map(str, second['runs'] + third['runs']))
    assert merged['summary']['0.2']['base']['n'] == 4
    assert merged['summary']['0.2']['ausam_0.5']['paired']['random_0.5']['n'] == 3
    with pytest.raises(ValueError, match='--merge'):
        earlier_runs('mnist1d', other, merge=[str(part)])
    with pytest.raises(ValueError, match='test_fraction'):  # a digits option is refused
        study_settings('mnist1d', test_fraction=0.3)


def test_accuracy_benchmark_command_line_refuses_an_option_of_another_dataset():
    """Refused, not ignored: ``--test-fraction`` is the digits split's."""
    proc = run_tool('label_noise', '--dataset', 'mnist1d', '--test-fraction', '0.3')
    assert proc.returncode == 2
    assert "--dataset mnist1d: ['test_fraction'] are options of another dataset" in proc.stderr


def test_accuracy_cost_plot_uses_per_seed_cpu_ratios_to_base(accuracy_report, tmp_path):
    _, accuracy_json, _ = accuracy_report
    accuracy = json.loads(accuracy_json.read_text())
    cost, ref = plots.relative_cost(accuracy, '0.3')
    assert ref == 'base' and cost['base'] == (1.0, 0.0)
    cpu = {(r['variant'], r['seed']): r['train_cpu_s'] for r in accuracy['runs']}
    ratios = [cpu[('ausam_0.5', s)] / cpu[('base', s)] for s in (0, 1)]
    assert cost['ausam_0.5'][0] == pytest.approx(np.mean(ratios))
    assert plots.family('ausam_unbiased_0.5') == ('ausam_unbiased', 0.5)
    assert plots.family('sam') == ('sam', None)
    out = plots.plot_accuracy_cost([accuracy, accuracy], str(tmp_path / 'cost.png'))
    assert open(out, 'rb').read(8) == PNG_MAGIC
    passes, _ = plots.passes_cost(accuracy, '0.3')
    assert passes == {'base': (1.0, 0.0), 'ausam_0.5': (1.0, 0.0)}
    proc = run_tool('plots', 'accuracy-cost', '--accuracy', str(accuracy_json),
                    '--cost', 'passes', '--out', str(tmp_path / 'passes.png'))
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {tmp_path / 'passes.png'}" in proc.stdout
    assert (tmp_path / 'passes.png').read_bytes()[:8] == PNG_MAGIC


def test_the_pose_study_figure_is_drawn_from_its_json(tmp_path):
    runs = [dict(variant=v, seed=seed, train_cpu_s=cpu * (1 + seed), pck_0_2=pck)
            for seed in (0, 1) for v, cpu, pck in (('base', 1.0, 0.3), ('sam', 2.0, 0.31))]
    study = dict(runs=runs, floor=dict(pck_0_2=0.04), settings=dict(train_size=8, test_size=4),
                 summary=dict(base=dict(pck_0_2_mean=0.3, pck_0_2_std=0.0),
                              sam=dict(pck_0_2_mean=0.31, pck_0_2_std=0.0)))
    out = plots.plot_pose_study(study, str(tmp_path / 'pose.png'))
    with open(out, 'rb') as f:
        assert f.read(8) == PNG_MAGIC
