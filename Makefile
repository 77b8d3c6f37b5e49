# make run   - set everything up and start the dashboard, the prober and the demo peers
# make test  - set everything up and run the tests (on SQLite and on PostgreSQL, at once)
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# make run probes your dependencies.yaml if there is one, else the example (demo peers included).
RUN_DEPENDENCIES ?= $(if $(wildcard dependencies.yaml),dependencies.yaml,dependencies.example.yaml)
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
# make run's SECRET_KEY: random, made once, readable by you alone, git-ignored. A SECRET_KEY or
# SECRET_KEY_FILE of your own is used instead.
RUN_SECRET_KEY := .secret-key

.PHONY: help install system-packages run test lint format clean

help:
	@echo "make run    start the dashboard on http://$(HOST):$(PORT) with the prober and demo peers (SQLite)"
	@echo "make test   run the tests (SQLite and PostgreSQL at once; CI=true makes missing services fail)"
	@echo "make test-sqlite, make test-postgres   one of the two passes"
	@echo "make lint   ruff check and ruff format --check"

# From the npm registry: the Ethereum node the RPC tests start (ganache) and the browser test's
# accessibility check (axe-core).
NODE_PEERS := node_modules/.package-lock.json
$(NODE_PEERS): package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the tests that need ganache or axe-core will be skipped"; fi

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(INSTALLED)

# Debian packages the tests drive: chromium (the browser test) and prometheus (promtool and
# a real scrape). Installed when missing, if root; otherwise those tests skip (fail, CI=true).
TEST_PACKAGES := chromium:chromium prometheus:promtool
system-packages:
	@missing=""; for pair in $(TEST_PACKAGES); do \
	  command -v "$${pair#*:}" >/dev/null || missing="$$missing $${pair%%:*}"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing || true; \
	elif [ -n "$$missing" ]; then \
	  echo "not installed:$$missing (as root: apt-get install$$missing): their tests skip, or fail with CI=true"; \
	fi

$(RUN_SECRET_KEY):
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@.new
	@mv $@.new $@
	@echo "made $@ (mode 0600): the SECRET_KEY make run uses"

ifeq ($(SECRET_KEY)$(SECRET_KEY_FILE),)
run: $(RUN_SECRET_KEY)
run: export SECRET_KEY_FILE := $(CURDIR)/$(RUN_SECRET_KEY)
endif
run: install
	$(PY) manage.py migrate --noinput
	@$(PY) manage.py demo_user
	@echo
	@echo "  seahealth: http://$(HOST):$(PORT)/  and  http://$(HOST):$(PORT)/health/dependencies"
	@echo "  probing $(RUN_DEPENDENCIES); Ctrl-C stops everything"
	@echo
	@export SEAHEALTH_DEPENDENCIES=$(RUN_DEPENDENCIES) DEMO_S3_KEY_ID=demo DEMO_S3_SECRET=demo \
	  DEMO_HOOK_SECRET=demo-hook-secret DEMO_PING_TOKEN=demo-ping-token; \
	trap 'kill $$(jobs -p) 2>/dev/null || true; wait' EXIT; \
	$(PY) -m demo.peers --ping http://$(HOST):$(PORT)/ping/demo-ping-token & \
	$(PY) manage.py runprobes & \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT) & \
	wait -n

# The suite runs twice, both passes at once (each waits on peers and browsers more than it
# computes): on SQLite (what make run uses) and on PostgreSQL (production); the tests marked
# no_database or engine_agnostic run in the SQLite pass alone. Each pass's output is printed
# whole when it ends.
test: install $(NODE_PEERS) system-packages
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

.PHONY: test-sqlite test-postgres
test-sqlite:
	$(PY) -m pytest
test-postgres:
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest -p no:cacheprovider

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache db.sqlite3* .test-db*.sqlite3* test-output staticfiles
