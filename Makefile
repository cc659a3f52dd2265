# Two commands on a fresh machine: `make demo` runs the whole system locally, `make test` the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make demo DEMO_ARGS=--exit-when-ready` stops after the first sync (a quick end-to-end check).
DEMO_ARGS ?=
export DAGSTER_HOME ?= $(CURDIR)/.revops/dagster_home

.PHONY: install chromium demo test lint check-defs bench bench-quick clean

$(STAMP): pyproject.toml revops_sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,sandbox,celery]'
	touch $(STAMP)

install: $(STAMP)

# The browser test (tests/ui) drives Debian's chromium; installed here (as root) when missing.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

demo: $(STAMP)
	$(BIN)/revops demo $(DEMO_ARGS)

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs
	$(BIN)/pytest -n 2 --dist loadgroup --durations=20

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

check-defs: $(STAMP)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --quick

clean:
	rm -rf $(VENV) .revops .pytest_cache .ruff_cache
