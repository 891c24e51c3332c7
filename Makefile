# The two commands a newcomer needs: `make run` and `make test`. Both do all set-up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
# apt-get needs root; a developer without it gets sudo (CI runs as root).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test demo reset lint typecheck bench clean setup browser

setup: $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed browser

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Azurite (the Table storage emulator) for the crosswalk contract tests.
node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins packages that clash with the app's, so it gets its own venv.
$(CHECKOV_VENV)/.installed: tests/infra/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

# Debian's Chromium and its driver for the jump-out's real-browser test (Selenium).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium chromium-driver >/dev/null; }

run: $(VENV)/.installed
	$(PY) -m localrun

# Arguments for the demo, e.g. make demo DEMO_ARGS="--first-booking 100001"
demo: $(VENV)/.installed
	$(PY) -m localrun.demo $(DEMO_ARGS)

# Wipe the local world (LOCAL_DATA_DIR): queue, crosswalk, simulator, dev secrets.
reset: $(VENV)/.installed
	$(PY) -m localrun.reset

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
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .local .mypy_cache .ruff_cache
