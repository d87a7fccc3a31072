# README's two commands: `make demo` and `make test`. Both install first when needed.
PY := .venv/bin/python
STAMP := .venv/.installed
INSTALL_INPUTS := tools/install.sh requirements/lock.txt setup.cfg pyproject.toml

.PHONY: install test demo clean

$(STAMP): $(INSTALL_INPUTS)
	bash tools/install.sh
	touch $(STAMP)

install:
	bash tools/install.sh
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) tools/demo.py --work-dir work_dirs/demo

clean:
	rm -rf work_dirs .pytest_cache
