# Two commands do the whole set-up on a fresh machine with Python 3.11:
#   make run   - install what the app needs and start it on http://localhost:7860 (offline out of the box)
#   make test  - install what the tests need (Python and system packages) and run them
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := chromium chromium-driver prometheus

.PHONY: run test test-fast install install-dev system-packages lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt

run: install
	$(BIN)/python app.py

# Chromium (browser tests) and Prometheus/promtool (monitoring tests) come from Debian's packages.
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: install-dev system-packages
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# The edit loop: the unit tier alone (tests/unit: no app, browser, Prometheus or slow test), well under a minute.
test-fast: install-dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests/unit

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
