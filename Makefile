# The two commands of the README: `make run` and `make test`. Both set up
# everything they need on a fresh machine (a virtual environment in .venv).
# `make run` installs only what the service needs; `make test` adds the test
# and lint extras and runs `make check` before pytest; `make bench` adds the
# bench extra (Celery, the throughput benchmark's peer) to those. `make fmt`
# fixes what ruff can fix by itself.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# Stamps named after pyproject.toml's checksum: a change to it installs again.
SUM := $(shell cksum pyproject.toml | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(SUM)
TEST_STAMP := $(VENV)/.installed-test-$(SUM)
BENCH_STAMP := $(VENV)/.installed-bench-$(SUM)
# What ruff looks at; mypy and import-linter read the package alone.
LINT_PATHS := wrls_actors tests bench scripts

.PHONY: run test test-fast test-slow check fmt bench services tools clean bytecode

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e .
	$(PY) scripts/assets.py
	rm -f $(VENV)/.installed-run-*
	touch $@

# The test install holds everything the run install does.
$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e '.[test,lint]'
	$(PY) scripts/assets.py
	rm -f $(VENV)/.installed-*
	touch $@ $(RUN_STAMP)

# The bench install holds everything the test install does, and Celery (the
# throughput benchmark's peer).
$(BENCH_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e '.[test,lint,bench]'
	$(PY) scripts/assets.py
	rm -f $(VENV)/.installed-*
	touch $@ $(TEST_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/wrls-actors run

services:
	bash scripts/services.sh

tools: $(TEST_STAMP)
	bash scripts/tools.sh $(VENV)

# ruff (lint and format), mypy (strict on the runtime), import-linter (the
# layers: runtime below jobs, job folders apart). No service needed.
check: $(TEST_STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: $(TEST_STAMP)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)
	$(VENV)/bin/ruff format $(LINT_PATHS)

# The tests that stop and start RabbitMQ and PostgreSQL (marker `exclusive`)
# run first, alone; then everything else, TEST_JOBS tests at a time (each test
# has its own database and virtual host).
TEST_JOBS ?= 5

# Compiled once here: the tests start many worker and CLI processes, and where
# PYTHONDONTWRITEBYTECODE is set each would compile the package again at its
# start. (pip compiles an installed package, as in the image.)
bytecode: $(TEST_STAMP)
	$(PY) -m compileall -q wrls_actors tests

test: check services tools bytecode
	$(PY) -m pytest -m exclusive
	$(PY) -m pytest -n $(TEST_JOBS) -m "not exclusive"

test-fast: $(TEST_STAMP) services bytecode
	$(PY) -m pytest -n $(TEST_JOBS) -m "not slow"

test-slow: $(TEST_STAMP) services bytecode
	$(PY) -m pytest -m slow

bench: $(BENCH_STAMP) services
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) .wrls .pytest_cache .mypy_cache .ruff_cache
