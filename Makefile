# Every target creates or reuses .venv and installs what it needs: on a fresh machine
# `make demo` and `make test` are the only two commands a person types.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock 2>/dev/null | sha256sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: venv demo test test-fast dev bench lint format clean postgres chromium

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev]"
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

demo: venv
	$(BIN)/python -m cli.demo

# PostgreSQL from Debian's package, for the production-topology test (a cluster per test run,
# started and stopped by the test itself; nothing is left running).
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; }

# Chromium from Debian's package, for the browser tests of the console (tests/console): Playwright
# drives /usr/bin/chromium and never downloads a browser of its own.
chromium:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# Three workers on two cores: many end-to-end tests wait on child processes, retries and
# timeouts rather than compute (the whole suite: about 24 min with 3 workers, 27 with 2).
test: venv postgres chromium
	$(BIN)/python -m pytest -n 3 --durations=15 $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

dev: venv
	$(BIN)/python -m cli.devserver

bench: venv
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev,bench]"
	$(BIN)/python benchmarks/run_all.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf archive audit.duckdb audit.iceberg.db .demo
