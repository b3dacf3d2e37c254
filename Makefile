# Thin aliases over the project's tools. `make help` lists them.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install lint fmt typecheck test test-fast run bench bench-smoke clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e '.[all]' --group test --group lint
	touch $(STAMP)

install: $(STAMP) ## Create .venv (when missing) and install the project with its tools

lint: install ## ruff: lint and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

fmt: install ## Format and fix what ruff can
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: install ## mypy --strict
	$(BIN)/mypy

test: lint typecheck ## Lint, type-check, then run every test
	$(BIN)/pytest

test-fast: install ## Only the tests that need no PostgreSQL, Redis or browser
	$(BIN)/pytest -m "not postgres and not redis and not browser and not slow"

run: install ## Start the demo (server + worker, SQLite) on http://127.0.0.1:8000
	$(BIN)/jobqueue demo

bench: install ## Benchmarks against the Python peers (installed under bench/.peers/); writes docs/benchmarks.md
	$(BIN)/python -m bench.run

bench-smoke: install ## Every benchmark workload at 1% size, peers only if installed (< 1 min)
	$(BIN)/python -m bench.run --smoke --results artifacts/bench-smoke.json --doc artifacts/bench-smoke.md

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
