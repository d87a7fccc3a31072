"""`pip install` of the project into an environment that already runs it changes nothing else.

docs/install.md's "Add ausam_mm to your existing MMPose environment" (and the README) promise
that the one `pip install` line adds `ausam_mm` and installs or upgrades nothing else
(`install_requires` asks only for what the code needs). This runs pip's resolver on this
repository against the environment the suite runs in - both ends of the supported range
(`make test`, `make test-compat`) - without installing anything and without an index: a
requirement the environment does not satisfy makes pip fail or list another package.
"""
import ast
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT as REPO_ROOT

ROOT = Path(REPO_ROOT)


def test_pip_install_adds_only_ausam_mm(tmp_path):
    report = tmp_path / 'report.json'
    # --no-build-isolation: the metadata is built with the environment's setuptools, not one
    # fetched from an index (the compat lock pins setuptools 69, which builds it as well)
    cmd = [sys.executable, '-m', 'pip', 'install', '--dry-run', '--no-index',
           '--no-build-isolation', '--disable-pip-version-check', '--quiet',
           '--report', str(report), str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, (
        f'pip cannot install ausam_mm into this environment without an index: '
        f'{proc.stdout}{proc.stderr}')
    installs = json.loads(report.read_text())['install']
    names = sorted(item['metadata']['name'].lower().replace('_', '-') for item in installs)
    assert names == ['ausam-mm'], f'pip would also install or change: {names}'
    requires = installs[0]['metadata'].get('requires_dist', [])
    # the framework packages stay optional extras; nothing core pins an exact version
    core = [r for r in requires if 'extra ==' not in r]
    assert not any('==' in r for r in core), core
    assert any(r.startswith('torch') and '>=2.1' in r for r in core), core


def test_the_wheel_holds_the_product_only(tmp_path):
    """`pip wheel .` carries ``ausam_mm/`` and its metadata, nothing of the lab (studies, demo,
    plots, device kit, tools, tests), and no module of it reads the checkout through
    ``__file__`` (``requirements/``, ``configs/``, ``git``)."""
    cmd = [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-index', '--no-build-isolation',
           '--disable-pip-version-check', '--quiet', '-w', str(tmp_path), str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheel, = tmp_path.glob('ausam_mm-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    outside = [n for n in names if not n.startswith(('ausam_mm/', 'ausam_mm-'))]
    assert outside == [], outside
    modules = [n for n in names if n.startswith('ausam_mm/') and n.endswith('.py')]
    lab = [n for n in modules if any(part in n for part in (
        'benchmark', 'demo', 'device_kit', 'plots', 'label_noise', 'pose_study', 'coverage'))]
    assert lab == [], lab
    assert 'ausam_mm/engine/optim_wrappers/sam.py' in modules  # the layout is what is shipped
    for name in modules:  # no module reads files relative to where it is installed
        tree = ast.parse(zipfile.ZipFile(wheel).read(name))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert '__file__' not in used, name
