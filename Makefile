# kravsak developer tasks. `make help` lists them.
# The virtualenv is .venv (python3.11); it is rebuilt only when pyproject.toml changes.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv system-deps up down status test test-cluster unit integration lint fmt demo bench bench-large bench-intake bench-cluster letter-pictures page-pictures

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## create .venv and install kravsak with its dev tools (again only when pyproject.toml changes)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps: ## install the Debian packages (Pango, fonts, poppler-utils; chromium for the browser tests) if missing (root)
	@bash tools/system-deps.sh

up: venv ## start the local PostgreSQL and Kafka (idempotent; see `kravsak status`)
	$(BIN)/kravsak up

down: venv ## stop the local PostgreSQL and Kafka
	$(BIN)/kravsak down

status: venv ## show what runs where
	$(BIN)/kravsak status

test: venv system-deps lint ## lint, then unit and integration tests against the local stack (started if needed)
	$(BIN)/kravsak up
	$(BIN)/pytest tests/unit tests/integration $(PYTEST_ARGS)

test-cluster: venv ## fault tests on a three-node Kafka cluster of their own (brokers SIGKILLed under load; ~5 min, .ci/run runs it)
	$(BIN)/pytest tests/cluster $(PYTEST_ARGS)

unit: venv system-deps ## unit tests only (no servers needed)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv ## integration tests against real PostgreSQL and Kafka
	$(BIN)/kravsak up
	$(BIN)/pytest -m integration tests/integration $(PYTEST_ARGS)

lint: venv ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: venv ## format the code and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: venv ## simulate a year of a collection office, write report/demo-*/index.html, then serve it (DEMO_ARGS=--no-serve)
	$(BIN)/kravsak up
	$(BIN)/kravsak demo $(DEMO_ARGS)

bench: venv ## measure the main job next to its baselines (<15 min): bench/results/<date>.json and a table
	$(BIN)/kravsak up
	$(BIN)/python -m kravsak.bench $(BENCH_ARGS)

bench-large: venv ## the growth point at 1 000 000 events beside 10 000 (ingest, publish, project; the rebuild of 1 M if it fits 20 min): bench/results/<date>-large.json, about 40 min
	$(BIN)/kravsak up
	$(BIN)/python -m kravsak.bench.large $(BENCH_ARGS)

bench-cluster: venv ## the capacity plan's numbers on the running stack (a cluster after `kravsak up --brokers 3`): bytes/event, publish, 1/2/4 projectors
	$(BIN)/python -m kravsak.bench.cluster $(BENCH_ARGS)

bench-intake: venv ## read 10 000 and 100 000-transaction bank files (OCR, camt.054): transactions/s and peak memory
	$(BIN)/python -m intake.bench $(BENCH_ARGS)

letter-pictures: venv system-deps ## render one sample letter of each type to docs/letters (PDF + PNG of page 1)
	$(BIN)/kravsak letters samples --out docs/letters --png

page-pictures: venv system-deps ## the browser journeys of the pages, their screenshots to docs/pages
	$(BIN)/kravsak up
	KRAVSAK_PAGE_SHOTS=docs/pages $(BIN)/pytest tests/integration/api/test_pages_browser.py $(PYTEST_ARGS)
