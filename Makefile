# The two commands a newcomer needs: `make run` and `make test`. Both do all set-up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test demo lint typecheck unit bench clean setup

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed
	$(PY) -m localrun

demo: $(VENV)/.installed
	$(PY) -m localrun.demo

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.installed
	$(PY) -m mypy .

test: setup lint typecheck
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .local .mypy_cache .ruff_cache
