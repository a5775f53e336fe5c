# IntelGraph: `make run` brings the product up on embedded servers; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-stamp
CLIENTS := tools/clients
CLIENTS_STAMP := $(CLIENTS)/node_modules/.install-stamp
PORT ?= 8000
DEMO_ENTITIES ?= 10000

.PHONY: run test lint format venv clients servers-up servers-down servers-status browser check-python clean-venv bench-access bench-search bench-graph bench-er bench-audit bench-restore bench-finops

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "IntelGraph needs Python >= 3.11; set PYTHON=/path/to/python3.11")'

$(STAMP): requirements.txt requirements-dev.txt requirements-backup.txt | check-python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) …"
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-backup.txt
	@scripts/ensure-backup-tools.sh
	@touch $@

venv: $(STAMP)

## clients: the integrators' clients (Apollo Client 4, and 3 in apollo3/) and graphql-inspector, pinned in tools/clients (npm ci)
$(CLIENTS_STAMP): $(CLIENTS)/package.json $(CLIENTS)/package-lock.json $(CLIENTS)/apollo3/package.json $(CLIENTS)/apollo3/package-lock.json
	@echo "installing the JavaScript clients into $(CLIENTS)/node_modules and $(CLIENTS)/apollo3/node_modules …"
	@npm ci --prefix $(CLIENTS) --no-audit --no-fund --loglevel=error
	@npm ci --prefix $(CLIENTS)/apollo3 --no-audit --no-fund --loglevel=error
	@touch $@

clients: $(CLIENTS_STAMP)

servers-up: venv
	@$(PY) manage.py devstack up

servers-down: venv
	@$(PY) manage.py devstack down

servers-status: venv
	@$(PY) manage.py devstack status

## run: install, start the embedded servers, migrate, load demo data once, then web + worker + beat
run: servers-up
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py seed_demo --if-empty --entities $(DEMO_ENTITIES)
	@$(PY) manage.py ensure_admin --url http://127.0.0.1:$(PORT)/admin/
	@PORT=$(PORT) $(PY) manage.py run

## browser: make sure Debian's chromium is there for the Playwright tests
browser:
	@scripts/ensure-chromium.sh

## test: lint, migration and deploy checks, then the whole pytest suite on real servers
test: servers-up browser clients lint
	@$(PY) manage.py makemigrations --check --dry-run -v1
	@$(PY) manage.py check --fail-level WARNING
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py schema_check --second-opinion
	@$(PY) manage.py api_changelog --check
	@$(PY) manage.py safelist_verify
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache

format: venv
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

clean-venv:
	rm -rf $(VENV)

## bench-access: policy overhead per page of 50 and 1,000 entities (needs demo data: make run once)
bench-access: servers-up
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py seed_demo --if-empty --entities $(DEMO_ENTITIES)
	@$(PY) -m tools.bench access $(BENCH_ARGS)

## bench-search: search through the real ASGI server at 10 and 50 requests/s on 1,000,000 entities (loaded once, minutes)
bench-search: servers-up
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) -m tools.bench search $(BENCH_ARGS)

## bench-graph: 1- and 2-hop neighbourhoods (graph store, service, API; PostgreSQL fallback) and a timed graph_rebuild on 1,800,000 entities (loaded once, minutes)
bench-graph: servers-up
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) -m tools.bench graph $(BENCH_ARGS)

## bench-restore: search p95 with and without a backup running, the backup, and a PITR drill with each step timed, on the 1,000,000-entity tenant (seeded once, minutes)
bench-restore: servers-up
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) -m tools.bench restore $(BENCH_ARGS)

## bench-finops: what metering adds to a search, what the LLM gateway adds to a call (local stand-in), fold throughput
bench-finops: servers-up
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) -m tools.bench finops $(BENCH_ARGS)

## bench-er: our ER engine vs Splink on FEBRL3/FEBRL4 (with and without soc_sec_id), then hard demo-generator sets (about a minute)
bench-er: servers-up
	@$(PY) -m tools.bench er $(BENCH_ARGS)

## bench-audit: appends with 1, 8 and 32 writers (old locked chain vs lock-free append + sealer), sealing lag, lock waits, verify speed on 1,000,000 events (own database, seeded once, minutes)
bench-audit: servers-up
	@$(PY) -m tools.bench audit $(BENCH_ARGS)
