"""The benchmark and plotting tools on real objects: digits label noise, tiny real Runner runs,
the JSON they write, the PNGs drawn from them, and the ``ausam/*`` scalars reaching MMEngine's
visualizer backends."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import toy  # noqa: F401  (registers ToyConvNet, ToyImageDataset)
from conftest import load_tool, toy_runner_cfg

pytest.importorskip('sklearn', reason='the accuracy benchmark needs scikit-learn (.[bench])')
accuracy_tool = load_tool('benchmark_accuracy')
speed_tool = load_tool('benchmark_speed')
plot_tool = load_tool('plot_results')

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def test_symmetric_noise_flips_exactly_the_rate_to_other_classes_uniformly():
    _, labels, _, _ = accuracy_tool.digits_split(0.5, 0)
    noisy, flipped = accuracy_tool.symmetric_noise(labels, 0.3, 10, seed=3)
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
    again, _ = accuracy_tool.symmetric_noise(labels, 0.3, 10, seed=3)
    assert np.array_equal(again, noisy)
    other, _ = accuracy_tool.symmetric_noise(labels, 0.3, 10, seed=4)
    assert not np.array_equal(other, noisy)


def test_digits_dataset_keeps_test_labels_clean_and_splits_fixed():
    train = accuracy_tool.DigitsDataset('train', noise=0.3, noise_seed=0)
    test = accuracy_tool.DigitsDataset('test', noise=0.3, noise_seed=0)
    clean = accuracy_tool.DigitsDataset('train')
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
    report = accuracy_tool.main([
        '--seeds', '0', '1', '--noise', '0.3', '--epochs', '2', '--batch-size', '128',
        '--variants', 'base', 'ausam_0.5', '--width', '4', '--log-interval', '1',
        '--work-dir', str(root / 'runs'), '--out', str(out)])
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
    # the AUSAM runs kept what plot_results.py selection reads; the base runs no checkpoint
    ausam_dir = root / 'runs' / 'ausam_0.5_noise0.3_seed0'
    assert (ausam_dir / 'last_checkpoint').is_file() and (ausam_dir / 'flipped.json').is_file()
    assert not (root / 'runs' / 'base_noise0.3_seed0' / 'last_checkpoint').exists()


def test_selection_plot_reads_history_and_scalars_of_an_ausam_run(accuracy_report):
    _, _, root = accuracy_report
    work_dir = str(root / 'runs' / 'ausam_0.5_noise0.3_seed0')
    adlp, count = plot_tool.read_history(work_dir)
    # warm-up epoch: every sample posted once; epoch 2: half of each candidate batch
    assert len(count) == 898 and count.min() == 1
    assert count.sum() == 898 + sum(subset_sizes(898, 128, 0.5))
    assert np.isfinite(adlp).all() and (adlp >= 0).all()
    assert plot_tool.read_flipped(work_dir, 898).sum() == round(0.3 * 898)
    f_max = [r['ausam/f_max'] for r in plot_tool.read_scalars(work_dir) if 'ausam/f_max' in r]
    assert f_max and max(f_max) == pytest.approx(0.5)  # the ramp (0.3 epochs) is over
    png = plot_tool.main(['selection', work_dir, '--out', str(root / 'selection.png')])
    with open(png, 'rb') as f:
        assert f.read(8) == PNG_MAGIC


def subset_sizes(n, batch, ratio):
    """floor(ratio * b) (at least 1) of every candidate batch of an epoch of n samples."""
    sizes = [batch] * (n // batch) + ([n % batch] if n % batch else [])
    return [max(1, int(ratio * b)) for b in sizes]


def test_speed_accuracy_plot_from_both_benchmarks_json(accuracy_report, tmp_path):
    _, accuracy_json, _ = accuracy_report
    speed_json = tmp_path / 'speed.json'
    speed_tool.main(['--variants', 'base', 'ausam_0.5', '--batch-size', '4', '--iters', '2',
                     '--skip', '1', '--rounds', '1', '--out', str(speed_json)])
    speed = json.loads(speed_json.read_text())
    accuracy = json.loads(accuracy_json.read_text())
    x_of, label = plot_tool.relative_speed(speed, accuracy, '0.3')
    assert x_of['base'] == 1.0 and x_of['ausam_0.5'] == pytest.approx(
        speed['results']['ausam_0.5']['samples_per_s'] / speed['results']['base']['samples_per_s'])
    assert 'throughput' in label
    res = speed['results']
    cpu_of, cpu_label = plot_tool.relative_speed(speed, accuracy, '0.3', clock='cpu')
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
        plot_tool.main(['speed-accuracy', '--accuracy', str(accuracy_json), *speed_arg,
                        '--out', str(out)])
        assert out.read_bytes()[:8] == PNG_MAGIC


def test_speed_benchmark_refuses_timed_steps_that_split_an_interval(capsys):
    # SAM every 2 over 3 timed steps would time 2 SAM steps or 1: the ratio would be off
    with pytest.raises(SystemExit):
        speed_tool.main(['--variants', 'base', 'sam_every_2', '--iters', '3'])
    err = capsys.readouterr().err
    assert "'sam_every_2' has interval=2, got --iters 3; use --iters 4" in err


def test_logger_hook_carries_ausam_scalars_to_the_local_vis_backend(tmp_path):
    # no visualizer configured: the Runner's default one writes vis_data/ (LocalVisBackend)
    cfg = toy_runner_cfg(tmp_path, epochs=2, default_hooks=dict(
        logger=dict(type='LoggerHook', interval=1), checkpoint=None))
    assert 'visualizer' not in cfg
    Runner.from_cfg(Config(cfg)).train()
    records = plot_tool.read_scalars(str(tmp_path))
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
    train = accuracy_tool.Mnist1dDataset('train', noise=0.2, noise_seed=1)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert random.getstate() == py_state
    test = accuracy_tool.Mnist1dDataset('test')
    assert (len(train), len(test)) == (4000, 1000)  # the package's default split
    item = train[0]
    assert item['inputs'].shape == (1, 40) and item['inputs'].dtype == torch.float32
    assert sorted(np.unique(test.labels.numpy())) == list(range(10))
    assert (train.labels.numpy() != train.clean_labels).mean() == pytest.approx(0.2)
    again = accuracy_tool.Mnist1dDataset('train')
    assert torch.equal(again.inputs, train.inputs)  # generated deterministically
    other = accuracy_tool.Mnist1dDataset('train', num_samples=1000, data_seed=3)
    assert len(other) == 800 and not torch.equal(other.inputs[:10], train.inputs[:10])


def test_mnist1d_study_pairs_seeds_tests_ausam_against_random_and_keeps_runs(tmp_path):
    pytest.importorskip('mnist1d', reason='the MNIST-1D benchmark needs mnist1d (.[bench])')
    from scipy import stats
    out = tmp_path / 'mnist1d.json'
    common = ['--dataset', 'mnist1d', '--num-samples', '1000', '--epochs', '2', '--width', '4',
              '--batch-size', '100', '--noise', '0.2', '--seeds', '0', '1', '2', '--out',
              str(out)]
    first = accuracy_tool.main(common + ['--variants', 'ausam_0.5', 'random_0.5'])
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
    second = accuracy_tool.main(common + ['--variants', 'base', 'ausam_0.5', 'random_0.5',
                                          '--keep-runs'])
    kept = [r for r in second['runs'] if r['variant'] != 'base']
    assert sorted(map(str, kept)) == sorted(map(str, first['runs']))
    assert len(second['runs']) == 9 and 'base' in second['summary']['0.2']['ausam_0.5']['paired']
    with pytest.raises(ValueError, match='--keep-runs'):
        accuracy_tool.main(common[:-2] + ['--lr', '0.2', '--out', str(out), '--keep-runs'])
    # a parallel process ran another seed: --merge folds both files into one, running nothing
    study = common[:common.index('--seeds')]
    part = tmp_path / 'seed3.json'
    third = accuracy_tool.main(study + ['--seeds', '3', '--variants', 'base', '--out', str(part)])
    merged = accuracy_tool.main(study + ['--seeds', '0', '1', '2', '3', '--variants', 'base',
                                         '--out', str(tmp_path / 'all.json'),
                                         '--merge', str(out), str(part)])
    assert sorted(map(str, merged['runs'])) == sorted(map(str, second['runs'] + third['runs']))
    assert merged['summary']['0.2']['base']['n'] == 4
    assert merged['summary']['0.2']['ausam_0.5']['paired']['random_0.5']['n'] == 3
    with pytest.raises(ValueError, match='--merge'):
        accuracy_tool.main(study + ['--lr', '0.2', '--seeds', '3', '--variants', 'base',
                                    '--out', str(tmp_path / 'x.json'), '--merge', str(part)])
    with pytest.raises(SystemExit):  # a digits option with mnist1d is refused, not ignored
        accuracy_tool.main(common + ['--test-fraction', '0.3'])


def test_accuracy_cost_plot_uses_per_seed_cpu_ratios_to_base(accuracy_report, tmp_path):
    _, accuracy_json, _ = accuracy_report
    accuracy = json.loads(accuracy_json.read_text())
    cost, ref = plot_tool.relative_cost(accuracy, '0.3')
    assert ref == 'base' and cost['base'] == (1.0, 0.0)
    cpu = {(r['variant'], r['seed']): r['train_cpu_s'] for r in accuracy['runs']}
    ratios = [cpu[('ausam_0.5', s)] / cpu[('base', s)] for s in (0, 1)]
    assert cost['ausam_0.5'][0] == pytest.approx(np.mean(ratios))
    assert plot_tool.family('ausam_unbiased_0.5') == ('ausam_unbiased', 0.5)
    assert plot_tool.family('sam') == ('sam', None)
    out = plot_tool.main(['accuracy-cost', '--accuracy', str(accuracy_json), str(accuracy_json),
                          '--out', str(tmp_path / 'cost.png')])
    assert open(out, 'rb').read(8) == PNG_MAGIC
    passes, _ = plot_tool.passes_cost(accuracy, '0.3')
    assert passes == {'base': (1.0, 0.0), 'ausam_0.5': (1.0, 0.0)}
    out = plot_tool.main(['accuracy-cost', '--accuracy', str(accuracy_json), '--cost', 'passes',
                          '--out', str(tmp_path / 'passes.png')])
    assert open(out, 'rb').read(8) == PNG_MAGIC
