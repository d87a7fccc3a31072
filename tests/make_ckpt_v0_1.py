"""Writes ``tests/data/ckpt_v0_1/epoch_2.pth``: a checkpoint in the format of ausam_mm 0.1.0.

The fixture of ``tests/test_engine/test_checkpoint_upgrade.py``: it was written once by
ausam_mm 0.1.0 (the code at commit f954cce, torch 2.14.1, mmengine 0.10.7), by running this
script from a checkout of that commit::

    PYTHONPATH=$PWD python tests/make_ckpt_v0_1.py tests/data/ckpt_v0_1

It trains :func:`ckpt_v0_1_cfg` (ToyConvNet of width 4, 16 samples, batches of 8, AUSAM with
``interval=2`` so that the wrapper's update count matters) for 2 of its 3 epochs and keeps the
epoch-2 checkpoint, which holds every part of the 0.1 format: ``checkpoint['ausam']``
(history, start_iter, sampler_options, draws_ahead) and ``optimizer['sam_updates']``.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))

import toy  # noqa: E402,F401  (registers ToyConvNet, ToyImageDataset)
from conftest import toy_runner_cfg, train  # noqa: E402


def ckpt_v0_1_cfg(work_dir, epochs=3, **kwargs):
    """The run of the fixture (``epochs=3``: the config that resumes it)."""
    cfg = toy_runner_cfg(work_dir, epochs=epochs, n=16, batch_size=8,
                         model=dict(type='ToyConvNet', width=4), **kwargs)
    cfg['optim_wrapper']['interval'] = 2
    return cfg


def main(out_dir: str) -> None:
    import torch
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as work_dir:
        train(ckpt_v0_1_cfg(work_dir, epochs=2))
        os.makedirs(out_dir, exist_ok=True)
        shutil.copy(os.path.join(work_dir, 'epoch_2.pth'), os.path.join(out_dir, 'epoch_2.pth'))


if __name__ == '__main__':
    main(sys.argv[1])
