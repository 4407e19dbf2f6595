# medcircle: `make demo` serves the demo world; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DB ?= sqlite:///var/demo.sqlite3

.PHONY: demo test lint fmt typecheck bench install install-dev browser pdf clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed

install-dev: $(VENV)/.installed-dev node_modules/.installed

browser:
	@bash scripts/ensure-chromium.sh

pdf:
	@bash scripts/ensure-pdf.sh

demo: install pdf
	MEDCIRCLE_DATABASE_URL=$(DEMO_DB) $(BIN)/medcircle db upgrade
	MEDCIRCLE_DATABASE_URL=$(DEMO_DB) $(BIN)/medcircle demo load
	MEDCIRCLE_DATABASE_URL=$(DEMO_DB) $(BIN)/medcircle serve --host 127.0.0.1 --port 8000

lint: install-dev
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install-dev
	$(BIN)/ruff format src tests bench migrations
	$(BIN)/ruff check --fix src tests bench migrations

test: install-dev browser pdf lint
	$(BIN)/pytest -n 2 --db=sqlite
	@if [ -n "$$MEDCIRCLE_TEST_DATABASE_URL" ]; then \
		$(BIN)/pytest -n 2 --db=postgresql -m "not browser"; \
	else \
		echo "MEDCIRCLE_TEST_DATABASE_URL is not set: PostgreSQL run skipped"; \
	fi

bench: install-dev
	@for b in bench/bench_*.py; do [ -e "$$b" ] && $(BIN)/python "$$b"; done; true

clean:
	rm -rf $(VENV) node_modules var .mypy_cache .ruff_cache .pytest_cache
