"""Train with an MMEngine config (MMPose, mmpretrain or plain MMEngine), SAM/AUSAM ready.

The interface of MMPose's ``tools/train.py``, plus:

- ``--sam [k=v ...]`` / ``--ausam [k=v ...]`` / ``--esam [k=v ...]``: run the config with SAM /
  AUSAM / ESAM, no file edited (``ausam_mm.engine.convert``); e.g. ``--ausam ratio=0.5
  rho=0.05``, ``--sam interval=2`` (SAM every 2 steps), ``--sam begin=0.75`` (late-phase SAM:
  the last 25 % of the training), ``--sam probability=0.5`` (each step SAM with probability
  0.5), ``--esam gamma=0.5``.
- ``--amp`` also switches the SAM, AUSAM and ESAM wrappers to their AMP twins.
- every run gets ``EpochSeedHook`` (random draws re-seeded per epoch), so ``--resume`` at an
  epoch boundary is bit-exact, random augmentation included (docs/reliability.md).
- ``--launcher pytorch`` (``tools/dist_train.sh``) also runs on machines without a GPU: DDP
  over gloo on the CPU (``ausam_mm.compat.cpu_dist``).
- ``compile`` (``--cfg-options compile=True`` or ``compile.backend=...``, or in the config)
  compiles the model's forward only (``CompileForwardHook``): the data preprocessor and the
  optimizer wrapper's step run eagerly, so MMPose models train compiled, with or without SAM.
- ``--resume`` without a path takes the newest intact checkpoint of the work dir (also after
  the work dir was moved). Every checkpoint, resumed or ``load_from``, loads through an
  allow-list unpickler: no file runs code (``ausam_mm.compat.checkpoint``).

Examples:
    python tools/train.py configs/pose/simcc_res50_mpii-256x256_ausam.py
    python tools/train.py \\
        mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py \\
        --ausam
    bash tools/dist_train.sh CONFIG 8 --ausam ratio=0.3
    NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh CONFIG 4 --ausam
"""
from known_warnings import silence

silence()  # before the imports below: some dependencies warn while they load

from ausam_mm.cli.train import main  # noqa: E402

if __name__ == '__main__':
    main()
