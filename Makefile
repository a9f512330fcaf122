# `make test` works on a fresh machine: it creates .venv, installs .[dev,proxy] and runs
# ruff, mypy --strict and pytest (unit tests + integration tests against a real proxy).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint typecheck test unit integration bench demo clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,proxy]'
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check muxer_litellm tests benchmarks
	$(BIN)/ruff format --check muxer_litellm tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict muxer_litellm

test: lint typecheck
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

# A real LiteLLM proxy with the demo models (muxer_litellm/data/litellm-demo.yaml), no keys, no internet:
# the model table, two prompts routed with the reason, one streamed answer, every call's cost.
demo: $(STAMP)
	$(BIN)/muxer-litellm demo

# Prints CPU per routing decision across 200 candidates (a benchmark, not a test).
bench: $(STAMP)
	$(BIN)/python benchmarks/routing_decision.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
