# Foresight — every entry point a user or CI needs. Needs only python3, make and git.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
# uv comes from PATH when present; otherwise it is bootstrapped into .tools/ with pip.
UV_ON_PATH := $(shell command -v uv 2>/dev/null)
UV := $(if $(UV_ON_PATH),$(UV_ON_PATH),$(ROOT)/.tools/bin/uv)
RUN := $(UV) run --frozen

export DAGSTER_HOME := $(ROOT)
export FORESIGHT_DAGSTER_STORAGE := $(ROOT)/.dagster_home
export WAREHOUSE_PATH ?= $(ROOT)/data/warehouse.duckdb
export FORESIGHT_SPEC_DIR ?= $(abspath $(ROOT)/../shared/specs)
export DO_NOT_TRACK := 1
# One planned materialisation per asset for a run over many daily partitions, not one per day.
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
# A range run's per-day materialisations written in batches (see pipeline/defs/storage.py).
export DAGSTER_EVENT_BATCH_SIZE ?= 1000

SANDBOX_ARGS ?=
# The platforms the sandbox plays in `make demo` / `make dev`; the others stay unconfigured.
PLATFORMS ?= shopify,klaviyo,mailchimp
SANDBOX_PORT ?= 8787
# ALLOW_LARGE_CHANGE=1: approve a sync change the blast-radius check held back, after review.
APPROVAL := $(if $(ALLOW_LARGE_CHANGE),--allow-large-change)

.PHONY: help setup demo next-day test lint dev bench chaos clean import-csv erase backtest chromium

help:
	@echo "make demo [PLATFORMS=shopify,mailchimp]  set up, start the sandbox store, run the daily job end to end, print a summary"
	@echo "make next-day [ALLOW_LARGE_CHANGE=1]  after a demo: move the sandbox clock one day on and run that day only"
	@echo "make test   set up and run every test and lint"
	@echo "make dev    Dagster UI on http://127.0.0.1:3000 against a sandbox on port $(SANDBOX_PORT)"
	@echo "make bench  benchmarks (generation, ingest, features, training, scoring)"
	@echo "make chaos  the long crash matrix (sync writes, loads, score writes, dbt models crashed; Mailchimp faults; then re-run)"
	@echo "make clean  remove data/, instance storage and build artefacts"
	@echo "make import-csv CSV=orders.csv [DATE_FORMAT='%d/%m/%Y']  import an order-history export"
	@echo "make backtest CSV=orders.csv AS_OF=2025-03-03 [DATE_FORMAT=…] [HORIZONS=30,90,365]  score as of a past day, judge against what followed"
	@echo "make erase REQUEST=request.txt [SANDBOX=1]  erase the people a request names (GDPR / CCPA) in the configured platforms"

$(ROOT)/.tools/bin/uv:
	python3 -m venv $(ROOT)/.tools
	$(ROOT)/.tools/bin/pip install --quiet --disable-pip-version-check uv

# Bytecode compiled at install: every dbt step, server and test worker is a new Python process,
# and without it each one compiles its imports from source again (seconds per process) wherever
# PYTHONDONTWRITEBYTECODE is set, as it is in many containers.
MANIFEST := dbt_project/target/manifest.json
DBT_BUILD_DIRS := \( -path dbt_project/target -o -path dbt_project/logs -o -path dbt_project/dbt_packages \) -prune -o

setup: $(UV)
	$(UV) sync --frozen --compile-bytecode
	@mkdir -p $(FORESIGHT_DAGSTER_STORAGE) data
	@# The manifest Dagster loads: parsed again only when a file of the dbt project or the lock
	@# changed since (seconds saved on every make command that sets up first).
	@if [ ! -f $(MANIFEST) ] || [ -n "$$(find dbt_project uv.lock $(DBT_BUILD_DIRS) -type f -newer $(MANIFEST) -print -quit)" ]; then \
		echo "$(RUN) dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project"; \
		$(RUN) dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project; \
	fi

demo: setup
	$(RUN) python -m pipeline.cli.demo --port $(SANDBOX_PORT) --platforms $(PLATFORMS) $(APPROVAL) $(SANDBOX_ARGS)

next-day: setup
	$(RUN) python -m pipeline.cli.demo --next-day --port $(SANDBOX_PORT) --platforms $(PLATFORMS) $(APPROVAL) $(SANDBOX_ARGS)

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) sqlfluff lint dbt_project/models

# The browser test drives Debian's Chromium (nothing downloads a browser of its own).
chromium:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Two workers; tests sharing a heavy session fixture (one demo shop, one shop on every platform,
# the small store's warehouses) are grouped onto one worker, so each is built once, and groups
# start in the order tests/conftest.py gives them (longest first). The slowest phases are listed
# at the end: where the suite's time goes, in every run.
PYTEST_ARGS ?= -n 2 --dist loadgroup --no-loadscope-reorder --durations=20
# Python lint first (a second). The SQL lint (~40 s of CPU, nearly all sqlfluff's own rules)
# runs at low priority beside the tests, on the CPU their workers leave idle while they wait
# on servers (one process: it has the whole run to finish); its report follows theirs, and
# either failing fails `make test`.
test: setup chromium
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	@sql_log=$$(mktemp); \
	nice -n 15 $(RUN) sqlfluff lint dbt_project/models --processes 1 > $$sql_log 2>&1 & sql=$$!; \
	echo "$(RUN) pytest $(PYTEST_ARGS)"; \
	$(RUN) pytest $(PYTEST_ARGS); tests=$$?; \
	wait $$sql; sql_status=$$?; \
	echo "$(RUN) sqlfluff lint dbt_project/models --processes 1 (beside the tests)"; \
	cat $$sql_log; rm -f $$sql_log; \
	[ $$tests -eq 0 ] && [ $$sql_status -eq 0 ]

dev: setup
	$(RUN) python -m pipeline.cli.dev --port $(SANDBOX_PORT) --platforms $(PLATFORMS) $(SANDBOX_ARGS)

import-csv: setup
	@test -n "$(CSV)" || { echo "usage: make import-csv CSV=path/to/orders.csv [DATE_FORMAT='%d/%m/%Y']"; exit 2; }
	$(RUN) python -m pipeline.cli.import_csv "$(CSV)" $(if $(DATE_FORMAT),--date-format "$(DATE_FORMAT)")

backtest: setup
	@test -n "$(CSV)" -a -n "$(AS_OF)" || { echo "usage: make backtest CSV=path/to/orders.csv AS_OF=YYYY-MM-DD [DATE_FORMAT='%d/%m/%Y'] [HORIZONS=30,90,365]"; exit 2; }
	$(RUN) python -m pipeline.cli.backtest "$(CSV)" --as-of "$(AS_OF)" $(if $(DATE_FORMAT),--date-format "$(DATE_FORMAT)") $(if $(HORIZONS),--horizons "$(HORIZONS)")

erase: setup
	@test -n "$(REQUEST)" || { echo "usage: make erase REQUEST=path/to/request (emails or customer ids, one a line or CSV; or a customers/redact JSON body)"; exit 2; }
	$(RUN) python -m pipeline.cli.erase "$(REQUEST)" $(if $(SANDBOX),--sandbox --port $(SANDBOX_PORT) $(SANDBOX_ARGS))

bench: setup
	$(RUN) python -m bench.stages
	$(RUN) python -m bench
	$(RUN) python -m bench.models
	$(RUN) python -m bench.mailchimp_emulator

chaos: setup
	$(RUN) python -m bench.chaos $(CHAOS_ARGS)

clean:
	rm -rf data $(FORESIGHT_DAGSTER_STORAGE) dbt_project/target dbt_project/logs artefacts
