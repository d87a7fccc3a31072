"""2-process CPU DDP (gloo) through a real MMEngine Runner with launcher='pytorch'."""
import os
import subprocess
import sys

import pytest
import torch

HERE = os.path.dirname(__file__)


def run_ddp(work_dir, optim, sync=False, interval=1):
    # this checkout's ausam_mm (the repository root), not whichever copy is installed
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([HERE, os.path.dirname(HERE)]))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(29500 + os.getpid() % 1000), os.path.join(HERE, 'ddp_worker.py'),
           str(work_dir), optim, '1' if sync else '0', str(interval)]
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
