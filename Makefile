# README's two commands: `make demo` and `make test` (flake8, then
# pytest). Both install first when needed.
# `make test-compat`: the same suite in .venv-torch2.1, the old end of the supported range
# (requirements/lock-torch2.1.txt: torch 2.1.2, mmcv 2.1.0 with ops, numpy 1.x).
PY := .venv/bin/python
STAMP := .venv/.installed
INSTALL_INPUTS := dev/install.sh dev/sdist_patches.sh requirements/lock.txt setup.cfg \
    pyproject.toml
COMPAT_LOCK := requirements/lock-torch2.1.txt
COMPAT_VENV := .venv-torch2.1
COMPAT_STAMP := $(COMPAT_VENV)/.installed
# `make device-kit`: what the lent GPU machine lacks, in .device-kit/ (dev/device_kit.py);
# `make device-rehearsal`: that machine's whole path on this CPU (dev/device_rehearsal.sh).
# docs/benchmarks.md section 5 has the lent machine's one command.
KIT := .device-kit
# the suite runs on this many processes (pytest-xdist); each needs about 1.5 GB of memory
PYTEST_WORKERS ?= 2

.PHONY: install install-compat test test-compat demo clean device-kit device-rehearsal

$(STAMP): $(INSTALL_INPUTS)
	bash dev/install.sh
	touch $(STAMP)

install:
	bash dev/install.sh
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m flake8 ausam_mm benchmarks dev tools tests
	$(PY) -m pytest -q -n $(PYTEST_WORKERS)

$(COMPAT_STAMP): dev/install.sh dev/sdist_patches.sh $(COMPAT_LOCK) setup.cfg pyproject.toml
	LOCK=$(COMPAT_LOCK) VENV=$(COMPAT_VENV) bash dev/install.sh
	touch $(COMPAT_STAMP)

install-compat:
	LOCK=$(COMPAT_LOCK) VENV=$(COMPAT_VENV) bash dev/install.sh
	touch $(COMPAT_STAMP)

# -ra (setup.cfg) prints every skip with its reason
test-compat: $(COMPAT_STAMP)
	$(COMPAT_VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS)

device-kit: $(STAMP)
	$(PY) dev/device_kit.py build --out $(KIT)

device-rehearsal: $(STAMP)
	nice -n 10 env KIT=$(KIT) KIT_PY=$(PY) bash dev/device_rehearsal.sh

demo: $(STAMP)
	$(PY) -m benchmarks.demo --work-dir work_dirs/demo

clean:
	rm -rf work_dirs .pytest_cache
