"""Workarounds of upstream limits, each in its own module that names the limit, the upstream
issue where there is one, and the version that makes it obsolete:

- :mod:`.checkpoint` (with :mod:`.allowlist_pickle`): MMEngine 0.10.7 cannot load its own
  checkpoints on torch >= 2.6 and unpickles in full below; importing it replaces MMEngine's
  loader of local checkpoint files (``AUSAM_MM_CHECKPOINT_LOADER=0`` keeps MMEngine's own);
- :mod:`.amp`: MMEngine's ``AmpOptimWrapper`` runs on CUDA only;
- :mod:`.eager`: contexts that must open and close outside a ``torch.compile`` graph;
- :mod:`.cpu_dist`: MMEngine's ``init_dist('pytorch')`` needs a GPU;
- :mod:`.torch_version`: what differs between torch 2.1 and the newest tested torch.
"""
