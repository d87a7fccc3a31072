"""Command lines that ``tools/`` runs and other code reuses (the demo, the tests):
``python -m ausam_mm.cli.train`` is ``python tools/train.py``. ``import ausam_mm`` does not
import this package."""
