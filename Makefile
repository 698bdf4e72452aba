# The two commands of the README: `make run` and `make test`. Both set up
# everything they need on a fresh machine (a virtual environment in .venv).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test test-fast test-slow bench services tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/wrls-actors run

services:
	bash scripts/services.sh

tools: $(STAMP)
	bash scripts/tools.sh $(VENV)

# The tests that stop and start RabbitMQ and PostgreSQL (marker `exclusive`)
# run first, alone; then everything else, TEST_JOBS tests at a time (each test
# has its own database and virtual host).
TEST_JOBS ?= 3

test: $(STAMP) services tools
	$(PY) -m pytest -m exclusive
	$(PY) -m pytest -n $(TEST_JOBS) -m "not exclusive"

test-fast: $(STAMP) services
	$(PY) -m pytest -n $(TEST_JOBS) -m "not slow"

test-slow: $(STAMP) services
	$(PY) -m pytest -m slow

bench: $(STAMP) services
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) .wrls .pytest_cache
