"""tools/demo.py (`make demo`) on a smaller setting, run as `make demo` runs it: three real runs
of the demo pose config in a process of its own, checked through what it prints and writes."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

pytest.importorskip('mmpose')
from ausam_mm.benchmark.plots import read_history  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NAMES = {'base optimizer': 'base', 'SAM': 'sam', 'AUSAM 0.5': 'ausam_0.5'}


def test_demo_table_png_and_ausam_passes_half_of_sams(tmp_path):
    epochs = 3
    proc = subprocess.run(  # the config's data_root is relative to the repository
        [sys.executable, osp.join('tools', 'demo.py'), '--epochs', str(epochs), '--work-dir',
         str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (ROOT, os.environ.get('PYTHONPATH')) if p)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    iterations = {NAMES[label]: int(n) for label, n in
                  re.findall(r'^\[demo\] (.+?): (\d+) iterations in', out, re.M)}
    assert list(iterations) == ['base', 'sam', 'ausam_0.5']

    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ['run', 's/epoch'])
    rows = lines[header:header + 4]
    assert rows[0].split() == ['run', 's/epoch', 'CPU', 's/epoch', 'passes/sample', 'final',
                               'loss', 'AP']
    assert [row.split()[0] for row in rows[1:]] == ['base', 'SAM', 'AUSAM']
    passes = {}
    for row, name in zip(rows[1:], iterations):
        epoch_s, epoch_cpu_s, passes[name], _, ap = map(float, row.split()[-5:])
        assert epoch_s > 0 and epoch_cpu_s > 0 and 0 <= ap <= 1
        assert f'AP {ap:.3f}' in out  # the run's own line agrees with its row
    assert re.search(r"^AUSAM 0\.5 took [\d.]+x SAM's time per epoch", out, re.M)

    assert passes['base'] == pytest.approx(1.0)
    assert passes['sam'] == pytest.approx(2.0)
    assert passes['ausam_0.5'] == pytest.approx(passes['sam'] / 2, rel=0.1)

    png = re.search(r'^\[demo\] figure: (.+)$', out, re.M).group(1)
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert osp.dirname(png) == str(tmp_path)
    # the selection counts drawn: the warm-up epoch posts all 12 instances, then 2 of each 4
    _, count = read_history(str(tmp_path / 'ausam_0.5'))
    assert len(count) == 12 and count.sum() == 12 + (epochs - 1) * 6

    runs = re.findall(r'^\[demo\] (\S+): log (.+)\n\s+checkpoint (.+)\n\s+rerun: .*?'
                      r'tools/train\.py (.+)$', out, re.M)
    assert [name for name, *_ in runs] == list(iterations)
    for name, log_file, checkpoint, command in runs:
        assert osp.isfile(checkpoint) and osp.isfile(log_file)
        assert iterations[name] == epochs * 3
        assert f'--work-dir {tmp_path / name}' in command
    assert '--ausam ratio=0.5 rho=0.01' in runs[-1][3]
