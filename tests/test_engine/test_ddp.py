"""2-process CPU DDP (gloo) through a real MMEngine Runner with launcher='pytorch'."""
import json
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import TESTS, free_port, toy_runner_cfg

HERE = TESTS  # ddp_worker.py and the helpers


def run_ddp(work_dir, optim, sync=False, interval=1, **options):
    # this checkout's ausam_mm (the repository root), not whichever copy is installed
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([HERE, os.path.dirname(HERE)]))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(free_port()), os.path.join(HERE, 'ddp_worker.py'),
           str(work_dir), optim, '1' if sync else '0', str(interval), json.dumps(options)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return [torch.load(os.path.join(work_dir, f'rank{r}.pt'), weights_only=True)
            for r in range(2)]


@pytest.mark.slow
@pytest.mark.parametrize('optim,sync,interval', [('SAMOptimWrapper', False, 1),
                                                 ('SAMOptimWrapper', True, 1),
                                                 ('AUSAMOptimWrapper', False, 1),
                                                 ('SAMOptimWrapper', False, 2),
                                                 ('ESAMOptimWrapper', False, 1)])
def test_ranks_end_identical(tmp_path, optim, sync, interval):
    """Plain steps of ``interval`` synchronise their gradients; ESAM's descent on each rank's
    own subset too."""
    r0, r1 = run_ddp(tmp_path, optim, sync, interval)
    assert r0['world_size'] == r1['world_size'] == 2
    for k in r0['params']:
        assert torch.equal(r0['params'][k], r1['params'][k]), k
    if optim.startswith('AUSAM'):
        h0, h1 = r0['history'], r1['history']
        assert torch.equal(h0['total'], h1['total']) and torch.equal(h0['count'], h1['count'])
        # every rank's posts reached both: 32 samples in warm-up + 2 epochs of half batches
        assert int(h0['count'].sum()) == 32 + 16 + 16


def dist_train(tmp_path, nodes, processes, *flags):
    """``tools/dist_train.sh CONFIG PROCESSES FLAGS`` on ``nodes`` "nodes" of this machine
    (``NNODES``, ``NODE_RANK``, one launcher each, all started together); returns each
    rank's saved state."""
    cfg = toy_runner_cfg(tmp_path / 'unused', optim='OptimWrapper', epochs=3, n=32,
                         batch_size=8, custom_imports=dict(imports=['toy']),
                         custom_hooks=[dict(type='SaveRankStateHook')],
                         env_cfg=dict(dist_cfg=dict(backend='nccl')),  # MMEngine's default
                         log_level='INFO')
    cfg.pop('experiment_name')
    config = str(tmp_path / 'toy_cfg.py')
    Config(cfg).dump(config)
    port = str(free_port())
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=HERE, PORT=port, NNODES=str(nodes),
               MASTER_ADDR='127.0.0.1',
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ['PATH']]))
    script = os.path.join(os.path.dirname(HERE), 'tools', 'dist_train.sh')
    procs = [subprocess.Popen(['bash', script, config, str(processes), '--work-dir',
                               str(tmp_path / 'work'), *flags],
                              env=dict(env, NODE_RANK=str(node)), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for node in range(nodes)]
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-6000:]
    world = nodes * processes
    return [torch.load(tmp_path / 'work' / f'rank{r}.pt', weights_only=True)
            for r in range(world)], outputs


@pytest.mark.slow
@pytest.mark.parametrize('nodes,processes', [(1, 2), (2, 1)])
def test_dist_train_sh_on_cpus(tmp_path, nodes, processes):
    """The real command line on a machine without a GPU: ``tools/train.py`` opens the gloo
    process group itself (MMEngine's ``init_dist`` would call ``torch.cuda.set_device``) and
    wraps the model for DDP without device ids; the ranks end identical."""
    if torch.cuda.is_available():
        pytest.skip('tests the path of machines without a GPU')
    ranks, outputs = dist_train(tmp_path, nodes, processes, '--ausam', 'ratio=0.5')
    r0, r1 = ranks
    assert r0['world_size'] == r1['world_size'] == 2
    assert all(torch.equal(r0['params'][k], r1['params'][k]) for k in r0['params'])
    h0, h1 = r0['history'], r1['history']
    assert torch.equal(h0['total'], h1['total']) and torch.equal(h0['count'], h1['count'])
    assert int(h0['count'].sum()) == 32 + 16 + 16  # both ranks' posts reached both
    assert 'no CUDA device: opened the gloo process group' in outputs[0]


@pytest.mark.slow
@pytest.mark.parametrize('optim', ['SAMOptimWrapper', 'AUSAMOptimWrapper'])
def test_random_schedule_draws_alike_on_both_ranks(tmp_path, optim):
    """probability=0.5: both ranks take the same mix of SAM and base steps (no communication
    decides it) and end with the same weights."""
    r0, r1 = run_ddp(tmp_path, optim, probability=0.5)
    assert r0['active'] == r1['active'] and 0 < sum(r0['active']) < len(r0['active'])
    for k in r0['params']:
        assert torch.equal(r0['params'][k], r1['params'][k]), k
