"""benchmarks.demo (`make demo`) at a tiny size, run as `make demo` runs it: the three parts' real
runs in a process of their own, checked through what it prints and writes; the sentences under
the tables against hand-made numbers; the digits part rerun gives the same accuracies."""
import os.path as osp
import re
import subprocess
import sys

import pytest

pytest.importorskip('mmpose')
pytest.importorskip('mmpretrain')
pytest.importorskip('sklearn')
pytest.importorskip('brevitas')
from benchmarks.demo import (LSP_VARIANTS, costs_within_spread, digits_part,  # noqa: E402
                             digits_reading, pose_part, pose_reading)
from benchmarks.label_noise import study_settings  # noqa: E402
from benchmarks.plots import read_history  # noqa: E402
from torch.utils import cpp_extension  # noqa: E402
from conftest import LSPET, ROOT, needs_lspet  # noqa: E402


DIGITS_LABELS = ['base optimizer', 'SAM', 'AUSAM 0.5', 'random 0.5']
NUMBER = r'[-+]?\d+\.\d+'
# what tools/known_warnings.py silences: none of it may reach the terminal
KNOWN = ['pkg_resources is deprecated', 'A new version of Albumentations',
         'The metainfo config file', 'fast_hadamard_transform', 'No CUDA runtime is found',
         'instance named of visualizer has been created', "'has_cuda' is deprecated",
         'Named tensors and all their associated APIs']


def table_after(lines, title_start):
    """The rows (label, numbers) of the table under the line that starts with ``title_start``,
    and the line under the table (its reading)."""
    start = next(i for i, line in enumerate(lines) if line.startswith(title_start))
    header = start + 1
    assert lines[header].startswith('run ')
    rows, i = [], header + 1
    while re.match(r'^\S.*?\s{2,}' + NUMBER, lines[i]):
        label = re.split(r'\s{2,}', lines[i])[0]
        rows.append((label, [float(x) for x in re.findall(r'[-+]?\d+\.\d+(?:e[-+]\d+)?',
                                                          lines[i][len(label):])]))
        i += 1
    return rows, lines[i]


def run_demo_tool(tmp_path, *argv):
    return subprocess.run(  # the pose config's data_root is relative to the repository
        [sys.executable, '-m', 'benchmarks.demo', '--work-dir', str(tmp_path), *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_demo_prints_three_parts_their_readings_a_png_and_no_known_warnings(tmp_path):
    pose_epochs = 3
    proc = run_demo_tool(tmp_path, '--digits-epochs', '2', '--pose-epochs', str(pose_epochs))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out, err = proc.stdout, proc.stderr
    for message in KNOWN:
        if message.startswith('No CUDA runtime') and not hasattr(cpp_extension, 'logger'):
            continue  # torch 2.1 print()s it: no filter reaches it (docs/install.md)
        assert message not in out + err, message
    warning_lines = re.findall(r'^.*\w+Warning: .*$', out + err, re.M)
    assert len(warning_lines) <= 3, warning_lines  # a handful at most (a new dependency's)
    lines = out.splitlines()

    for title, qat in (('1. What does SAM buy', False), ('2. Does it hold under', True)):
        rows, reading = table_after(lines, title)
        assert [label for label, _ in rows] == DIGITS_LABELS
        acc = {label: numbers[0] for label, numbers in rows}
        for label, (acc_pc, vs_base, fit, ms, p25, p75, cost) in rows:  # p75 after a '-'
            assert 0 < acc_pc <= 100 and 0 <= fit <= 100 and 0 < p25 <= ms <= -p75
            assert vs_base == pytest.approx(acc_pc - acc['base optimizer'], abs=0.011)
        assert rows[0][1][1] == 0 and rows[0][1][6] == 1
        sam_gain, sam_cost = rows[1][1][1], rows[1][1][6]
        assert sam_cost == pytest.approx(rows[1][1][3] / rows[0][1][3], abs=0.01)
        assert reading.startswith('Under W4A4 QAT, ' if qat else 'SAM')
        if sam_gain > 0:  # the sentence carries this run's numbers
            assert f'SAM gained {sam_gain:.1f} pt' in reading
        else:
            assert f'SAM did not help in this run ({sam_gain:+.1f} pt' in reading
        assert f'at {sam_cost:.2f}x its CPU time per step' in reading
        for label, numbers in rows[2:]:
            assert f'{label} ' in reading and f'at {numbers[6]:.2f}x' in reading

    rows, reading = table_after(lines, '3. Does it run on an MMPose model?')
    assert [label for label, _ in rows] == ['base optimizer', 'SAM', 'AUSAM 0.5']
    passes = {label: numbers[0] for label, numbers in rows}
    assert passes['base optimizer'] == pytest.approx(1.0)
    assert passes['SAM'] == pytest.approx(2.0)
    assert passes['AUSAM 0.5'] == pytest.approx(1.0, rel=0.1)  # after its warm-up epoch
    for label, (_, ms, p25, p75, cost, first, last) in rows:
        assert 0 < p25 <= ms <= -p75 and cost > 0 and first > 0 and last > 0
    assert f"ran {passes['AUSAM 0.5']:.2f} forward+backward passes per sample" in reading
    assert 'These runs measure no accuracy' in reading
    # no accuracy measured on training images anywhere: no AP, the study's held-out result
    assert not re.search(r'\bAP\b|training instances', out)
    assert ('The pose study (results/pose_lspet.json): held-out PCK@0.2 on LSPET' in out
            if osp.isfile(osp.join(ROOT, 'results', 'pose_lspet.json')) else
            'the pose study has no result file here' in out)
    # the AUSAM run's selection counts: the warm-up epoch posts all 12 instances, then 2 of 4
    _, count = read_history(str(tmp_path / 'pose' / 'ausam_0.5'))
    assert len(count) == 12 and count.sum() == 12 + (pose_epochs - 1) * 6

    png = re.search(r'^\[demo\] figure: (.+)$', out, re.M).group(1)
    assert osp.dirname(png) == str(tmp_path)
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    logs = dict(re.findall(r'^\[demo\] (\w+ \S+): log (.+)$', out, re.M))
    assert len(logs) == 4 + 4 + 3 and all(osp.isfile(p) for p in logs.values())
    with open(logs['qat sam']) as f:
        assert 'Brevitas QAT (lsq)' in f.read()  # the QAT runs train the quantized model
    reruns = dict(re.findall(r'^\[demo\] (\w+(?: \S+)?): rerun (.+)$', out, re.M))
    assert '--qat w4a4' in reruns['qat'] and '--qat' not in reruns['digits']
    assert '--epochs 2' in reruns['digits'] and '-m benchmarks.label_noise' in reruns['digits']
    assert '--ausam ratio=0.5 rho=0.01' in reruns['pose ausam_0.5']
    assert re.search(r'^\[demo\] the whole command: \d+ s of wall time', out, re.M)


def test_digits_part_reruns_to_the_same_accuracies(tmp_path):
    first, second = (digits_part(str(tmp_path / name), epochs=1, variants=['base', 'sam'],
                                 log=lambda line: None) for name in ('a', 'b'))
    assert [r['acc'] for r in first['rows']] == [r['acc'] for r in second['rows']]


def test_readings_follow_the_numbers():
    def rows(*accs_costs):
        names = ['base', 'sam', 'ausam_0.5', 'random_0.5']
        return [dict(variant=n, vs_base=acc - accs_costs[0][0], cost=cost)
                for n, (acc, cost) in zip(names, accs_costs)]

    helped = digits_reading(rows((80, 1.0), (90, 1.8), (85, 1.3), (92, 1.3)))
    assert helped.startswith('SAM gained 10.0 pt of held-out accuracy over the base optimizer '
                             'at 1.80x its CPU time per step;')
    assert 'AUSAM 0.5 kept 50 % of it (+5.0 pt) at 1.30x' in helped
    assert 'random 0.5 kept all of it and more (+12.0 pt over the base optimizer)' in helped
    assert helped.endswith("AUSAM's scores did 7.0 pt worse than a random subset of the same "
                           'size.')
    hurt = digits_reading(rows((80, 1.0), (79, 1.6), (78, 1.2), (81, 1.2)), 'Under W4A4 QAT, ')
    assert hurt.startswith('Under W4A4 QAT, SAM did not help in this run (-1.0 pt')
    assert 'AUSAM 0.5 -2.0 pt at 1.20x' in hurt and '3.0 pt worse than a random' in hurt

    def step(median):
        return dict(median=median, p25=0.9 * median, p75=1.1 * median)
    pose = [dict(variant='base', passes=1.0, step=step(1.0), first_loss=2.0, last_loss=1.0),
            dict(variant='sam', passes=2.0, step=step(2.0), first_loss=2.0, last_loss=0.5),
            dict(variant='ausam_0.5', passes=1.0, step=step(1.2), first_loss=2.0,
                 last_loss=3.0)]
    text = pose_reading(pose)
    assert "AUSAM 0.5 ran 1.00 forward+backward passes per sample to SAM's 2.00" in text
    assert "0.60x SAM's CPU time per step" in text
    assert 'did not fall from the first epoch to the last for AUSAM 0.5' in text


def test_costs_within_each_others_spread_are_not_called_a_difference():
    def row(variant, p25, p75):
        return dict(variant=variant, step=dict(median=(p25 + p75) / 2, p25=p25, p75=p75))
    apart = [row('ausam_0.5', 1.0, 1.1), row('random_0.5', 1.2, 1.3)]
    assert costs_within_spread(apart) == ''
    overlapping = [row('ausam_0.5', 1.0, 1.25), row('random_0.5', 1.2, 1.3)]
    assert costs_within_spread(overlapping) == ("; the per-step costs of AUSAM 0.5 and random 0.5 "
                                                "lie within each other's spread")


@needs_lspet
def test_the_pose_part_with_lspet_scores_held_out_images(tmp_path):
    part = pose_part(str(tmp_path), epochs=1, lsp_root=LSPET, log=lambda line: None)
    assert part['held_out'] and [r['variant'] for r in part['rows']] == LSP_VARIANTS
    for r in part['rows']:
        assert 0 <= r['pck1'] <= r['pck2'] <= 100
    assert part['table'].splitlines()[0].split()[:3] == ['run', 'PCK@0.2', '%']
    assert 'held-out LSPET images' in part['reading']
    assert 'one seed decides nothing' in part['reading']


def test_qat_settings_only_where_asked():
    assert 'qat' not in study_settings('digits')  # the float studies' files still match
    assert study_settings('digits', qat='W4A4')['qat'] == dict(
        weight_bit_width=4, act_bit_width=4, first_last_bit_width=8, quantizer='lsq',
        collect_stats_steps=30)
    with pytest.raises(ValueError, match="'w<bits>a<bits>'.*got 'w4'"):
        study_settings('digits', qat='w4')
