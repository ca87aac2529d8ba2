# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test soak lint typecheck unit setup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/orchestrate demo

lint: $(STAMP)
	$(BIN)/ruff check orchestrator tests
	$(BIN)/ruff format --check orchestrator tests

typecheck: $(STAMP)
	$(BIN)/mypy --strict orchestrator

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

# The long fault runs: 200 kill -9s of the daemon at random points (about 10 minutes).
soak: $(STAMP)
	ORCHESTRATE_CRASHES=200 $(BIN)/pytest -q tests/test_restart.py -k random_kill

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
