# The two commands of the Quickstart, and what they need. Both install into .venv on first use.
#   make dev    the whole pipeline locally: Kafka broker (fetched from Maven Central once),
#               topics, ingress and worker; Ctrl-C stops everything
#   make test   lint, type check and the full test suite, real broker included; the deployment
#               tests' tools are built once into ~/.cache/hookgate (helm from the Go module
#               proxy, docker-compose in a venv of its own) and found there afterwards
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: dev test test-cluster lint install clean

$(STAMP): pyproject.toml
	@echo "==> installing hookgate and its dependencies into $(VENV) (first run takes a minute)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/hookgate dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	HOOKGATE_HELM="$$(.ci/ensure-helm)" HOOKGATE_COMPOSE="$$(.ci/ensure-compose)" \
		$(BIN)/python -m pytest

# The three-broker failure test (kills brokers under load; ~4 min), kept out of `make test`.
test-cluster: $(STAMP)
	$(BIN)/python -m pytest -m cluster

clean:
	rm -rf $(VENV) .hookgate .pytest_cache .mypy_cache .ruff_cache
