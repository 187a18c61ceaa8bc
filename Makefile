# Two commands do the whole set-up on a fresh machine with Python 3.11:
#   make run   - install what the app needs and start it on http://localhost:7860 (offline out of the box)
#   make test  - install what the tests need (Python and system packages) and run them
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Test processes: a whole file runs in one (loadfile), so a file's shared app and its order stay as written. Two on
# two cores: the machine is busy 92% of the run with two (vmstat), and three slowed the Ray tests' one-CPU nodes
# (their file took 351 s of one worker against 162 s with two) for no gain (pytest 686 s against 681 s, December 2026).
TEST_WORKERS ?= 2
# torch threads per test process (and per app, CLI or Ray actor a test starts): the workers already fill two cores, and
# torch's default of one thread per core made each pass spin-wait for a busy core (1 thread: 12% less CPU time on the
# model-bound tests, measured with /usr/bin/time on this 2-core machine).
TEST_THREADS ?= 1
SYSTEM_PACKAGES := chromium chromium-driver prometheus postgresql nginx docker-compose

.PHONY: run test test-fast install install-dev system-packages lint typecheck clean

# Every step says what it does before it starts, and pip shows its own progress (what it collects, downloads (with a
# bar on a terminal), installs): a fresh install takes minutes and must not pass in silence. A stamp per requirements
# file skips pip when nothing changed, so a second `make run` starts the app at once.
PIP_INSTALL := $(BIN)/pip install --disable-pip-version-check

$(BIN)/python:
	@echo "==> creating the virtual environment $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip

$(VENV)/.installed-app: requirements.txt | $(BIN)/python
	@echo "==> installing the app's packages (requirements.txt; about 1.5 GB, a few minutes on a fresh machine)"
	$(PIP_INSTALL) -r requirements.txt
	@touch $@

# --no-compile: pip byte-compiles every module it installs, one core for two minutes here (164 s against 50 s
# without, a fresh venv of requirements-dev.txt), while the tests import a fraction of them (not the hundreds of
# transformers model folders, nor most of torch's and Ray's subpackages). The test run writes the bytecode of what it
# imports instead: `test` clears PYTHONDONTWRITEBYTECODE, or on machines that set it every process would compile its
# imports from source again; $(VENV)/.bytecode compiles the bulk of it once, before they start.
$(VENV)/.installed-dev: requirements-dev.txt requirements.txt requirements-tracking.txt requirements-scale.txt | $(BIN)/python
	@echo "==> installing the app's and the tests' packages (requirements-dev.txt: Ray, MLflow, pytest, linters;"
	@echo "    about 2 GB, a few minutes on a fresh machine)"
	$(PIP_INSTALL) --no-compile -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-app

install: $(VENV)/.installed-app

install-dev: $(VENV)/.installed-dev

run: install
	@echo "==> starting the app on http://localhost:7860 (Ctrl-C stops it)"
	$(BIN)/python app.py

# Chromium (browser tests), Prometheus/promtool (monitoring tests), PostgreSQL (the store's shared backend), nginx (the
# reference deployment's load balancer, run for real) and docker-compose (checks the compose file; no engine needed)
# come from Debian's packages. (On a machine run by systemd, installing nginx also starts its default site on port 80:
# `sudo systemctl disable --now nginx` if you do not want it; the tests start their own nginx on a free port.)
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "==> installing the Debian packages the tests use:$$missing (about a minute)"; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

# Once per install: the bytecode of what the tests import, written by two processes before the tests start, so that
# their first processes do not each compile the same modules at once (scripts/compile_bytecode.py).
$(VENV)/.bytecode: $(VENV)/.installed-dev scripts/compile_bytecode.py
	@echo "==> byte-compiling the modules the tests import"
	HF_HUB_OFFLINE=1 $(BIN)/python scripts/compile_bytecode.py
	@touch $@

test: install-dev system-packages $(VENV)/.bytecode
	@echo "==> running the tests (unit, integration, e2e) in $(TEST_WORKERS) processes (pytest-xdist; one dot per test)"
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=$(TEST_THREADS) PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

# The edit loop: the unit tier alone (tests/unit: no app, browser, Prometheus or slow test), well under a minute.
test-fast: install-dev
	HF_HUB_OFFLINE=1 PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest tests/unit

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
