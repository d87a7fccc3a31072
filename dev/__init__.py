"""Developer tooling, not installed with ``ausam_mm``: the install script of the pinned stack
(``dev/install.sh``, ``make install``) and the lent GPU machine's kit and check
(``dev/device_kit.py``, ``dev/gpu_check.sh``, ``dev/device_rehearsal.sh``; docs/benchmarks.md,
section 5)."""
