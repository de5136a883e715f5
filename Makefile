# Every target creates .venv and installs what it needs, so each works on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: setup services proto lint format test test-fast bench demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[all,dev]'
	touch $(STAMP)

setup: $(STAMP)

services:
	bash scripts/services.sh

proto: $(STAMP)
	bash scripts/gen_proto.sh src/leoscope/api

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: $(STAMP) services
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -x -q tests/unit $(PYTEST_ARGS)

bench: $(STAMP) services
	bash scripts/bench.sh

demo: $(STAMP)
	bash scripts/services.sh docker || true
	$(BIN)/leoscope up

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
