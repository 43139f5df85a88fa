# Developer entry points. `make test` is the one command the README gives for the tests: it
# creates .venv, installs the core with its test extras, and runs pytest.
PY ?= python3
VENV ?= .venv

.PHONY: test lint bench clean
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(VENV)/bin/python bench/bench_core.py

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache dist build
