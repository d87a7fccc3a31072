"""tools/demo.py (`make demo`) on a smaller setting: three real runs of the demo pose config."""
import os.path as osp

import pytest

from conftest import load_tool

pytest.importorskip('mmpose')
demo = load_tool('demo')
plot_tool = load_tool('plot_results')
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_demo_table_png_and_ausam_passes_half_of_sams(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the config's data_root is relative to the repository
    epochs = 3
    report = demo.main(['--epochs', str(epochs), '--work-dir', str(tmp_path)])
    out = capsys.readouterr().out
    results = {r['name']: r for r in report['results']}
    assert list(results) == ['base', 'sam', 'ausam_0.5']

    rows = report['table'].splitlines()
    assert rows[0].split() == ['run', 's/epoch', 'CPU', 's/epoch', 'passes/sample', 'final',
                               'loss', 'AP']
    assert [row.split()[0] for row in rows[1:]] == ['base', 'SAM', 'AUSAM']
    for row, r in zip(rows[1:], results.values()):
        assert f"{r['speed']['passes_per_sample']:.2f}" in row and f"{r['ap']:.3f}" in row
        assert r['epoch_s'] > 0 and r['epoch_cpu_s'] > 0 and 0 <= r['ap'] <= 1
    assert report['table'] in out and report['sentence'] in out

    passes = {name: r['speed']['passes_per_sample'] for name, r in results.items()}
    assert passes['base'] == pytest.approx(1.0)
    assert passes['sam'] == pytest.approx(2.0)
    assert passes['ausam_0.5'] == pytest.approx(passes['sam'] / 2, rel=0.1)

    with open(report['png'], 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert osp.dirname(report['png']) == str(tmp_path) and report['png'] in out
    # the selection counts drawn: the warm-up epoch posts all 12 instances, then 2 of each 4
    _, count = plot_tool.read_history(results['ausam_0.5']['work_dir'])
    assert len(count) == 12 and count.sum() == 12 + (epochs - 1) * 6

    for name, r in results.items():
        assert osp.isfile(r['checkpoint']) and osp.isfile(r['recorder'].log_file)
        assert len(r['recorder'].losses) == epochs * 3
        assert r['checkpoint'] in out and r['recorder'].log_file in out
        assert f"tools/train.py {' '.join(r['command'])}" in out
    assert '--ausam ratio=0.5 rho=0.01' in ' '.join(results['ausam_0.5']['command'])
