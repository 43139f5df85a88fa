# Developer entry points. `make test` is the one command the README gives for the tests: it
# creates .venv, installs the core with its test extras, and runs pytest.
PY ?= python3
VENV ?= .venv

BENCHVENV ?= .benchvenv

.PHONY: test quick lint bench benchvenv clean
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest

# The developer loop: everything but the real-host and `slow` tests (about 2-3 minutes on 2 cores).
# CI and `make test` run the full suite.
quick: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -m "not slow and not hosts"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# Benchmarks compare against rembg 2.0.86 on the same model, images and run; it gets a venv
# of its own so its pins never touch ours.
bench: $(VENV)/.installed $(BENCHVENV)/.installed
	BGONE_BENCH_REMBG_PYTHON=$(BENCHVENV)/bin/python $(VENV)/bin/python bench/bench_core.py
	BGONE_BENCH_REMBG_PYTHON=$(BENCHVENV)/bin/python $(VENV)/bin/python bench/bench_refine.py

benchvenv: $(BENCHVENV)/.installed

$(BENCHVENV)/.installed:
	$(PY) -m venv $(BENCHVENV)
	$(BENCHVENV)/bin/python -m pip install -q --upgrade pip
	$(BENCHVENV)/bin/python -m pip install -q "rembg[cli]==2.0.86" onnxruntime pymatting
	touch $@

# The tests run with the library versions the installer ships (installer/requirements-lock.txt,
# read here as constraints without its hashes), so what is tested is what users get.
$(VENV)/.installed: pyproject.toml installer/requirements-lock.txt
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	sed -e '/^#/d' -e '/--hash/d' -e 's/ *\\$$//' installer/requirements-lock.txt > $(VENV)/constraints.txt
	$(VENV)/bin/python -m pip install -q -c $(VENV)/constraints.txt -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) $(BENCHVENV) .pytest_cache dist build
