"""Entry point of the 2-process CPU DDP tests (run by torchrun from test_ddp.py).

usage: torchrun --nproc_per_node 2 ddp_worker.py WORK_DIR OPTIM_WRAPPER [SYNC_PERTURBATION
       [INTERVAL [OPTIONS_JSON]]]
Trains ToyConvNet through a real Runner with launcher='pytorch' and saves, per rank, the
parameters, (AUSAM) the score history and ``sam/active`` of every iteration to
WORK_DIR/rank{R}.pt. OPTIONS_JSON: more options of the optimizer wrapper.

MMEngine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` unconditionally and
its default DDP wrapper passes ``device_ids=[LOCAL_RANK]``; neither works on a CPU. So the
worker opens the gloo process group itself (the Runner then skips ``init_dist``) and names the
DDP wrapper without ``device_ids``. Everything else is the Runner's own distributed path.
"""
import json
import os
import sys

import torch
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import Runner

sys.path.insert(0, os.path.dirname(__file__))
from conftest import toy_runner_cfg  # noqa: E402
from toy import rank_state  # noqa: E402  (and registers the toy model and dataset)


class ActiveLog(Hook):
    def __init__(self):
        self.active = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.active.append(int(runner.message_hub.get_scalar('train/sam/active').current()))


def main():
    work_dir, optim = sys.argv[1], sys.argv[2]
    sync = len(sys.argv) > 3 and sys.argv[3] == '1'
    interval = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    options = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    cfg = toy_runner_cfg(work_dir, optim=optim, epochs=3, n=32, batch_size=8,
                         launcher='pytorch', experiment_name='ddp_test')
    cfg['optim_wrapper'].update(sync_perturbation=sync, interval=interval, **options)
    cfg['model_wrapper_cfg'] = dict(type='MMDistributedDataParallel', device_ids=None,
                                    broadcast_buffers=False)
    torch.distributed.init_process_group('gloo')
    runner = Runner.from_cfg(Config(cfg))
    log = ActiveLog()
    runner.register_hook(log)
    runner.train()
    torch.save(dict(rank_state(runner), active=log.active),
               os.path.join(work_dir, f'rank{get_rank()}.pt'))
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()  # as tools/train.py


if __name__ == '__main__':
    main()
    # Even with the group destroyed, gloo's worker threads can still hold work objects whose
    # tensors are freed during interpreter finalization, which then aborts the rank (SIGABRT,
    # "terminate called without an active exception") after its training and results are
    # written: pytorch/pytorch#179291 (closed unmerged); seen here on torch 2.14.1 in a full
    # suite. The worker's results are on disk, so it leaves without finalization; drop this
    # when torch tears gloo down before finalization.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
