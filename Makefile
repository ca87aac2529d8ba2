# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test soak bench lint typecheck unit setup clean

SETUP_LOG := $(VENV)/setup.log

# Quiet while it installs: one line, the installers' output in $(SETUP_LOG) (shown on failure).
$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (pip's output: $(SETUP_LOG)) ..."
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e '.[dev]'; } > $(SETUP_LOG) 2>&1 \
		|| { tail -n 40 $(SETUP_LOG); echo "setup failed: see $(SETUP_LOG)"; exit 1; }
	@touch $(STAMP)
	@echo "$(VENV) ready"

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/orchestrate demo

lint: $(STAMP)
	$(BIN)/ruff check orchestrator tests bench
	$(BIN)/ruff format --check orchestrator tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict orchestrator bench

# The tests mostly wait (on agents' delays, ticks, tmux): three workers per core keep the
# cores busy (on 2 cores: 3.3 minutes, against 8 with one worker per core).
WORKERS ?= $(shell $(PYTHON) -c 'import os; print(min(12, 3 * (os.cpu_count() or 1)))')

unit: $(STAMP)
	$(BIN)/pytest -q -n $(WORKERS) --dist worksteal

test: lint typecheck unit

# Every figure of docs/BENCHMARKS.md, measured here (not part of make test; ~10 minutes).
bench: $(STAMP)
	$(BIN)/python -m bench --out docs/BENCHMARKS.md

# The long fault runs: 200 kill -9s of the daemon at random points for each kind of agent
# (one that echoes the paste, one that shows a placeholder, one that shows nothing; about 25
# minutes in all).
soak: $(STAMP)
	ORCHESTRATE_CRASHES=200 $(BIN)/pytest -q --timeout=3000 tests/test_restart.py -k random_kill

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
