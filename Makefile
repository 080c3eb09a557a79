# fairslot: `make run` serves the API (and web app) locally; `make test` runs every test.
# The fast loop: `make unit` (pure rules and unit tests, seconds), `make check` (lint and every test
# but end-to-end, infrastructure and browser), then `make test` (all of it, what CI runs).
# Both install what they need on the first call (virtualenv, pip, npm, apt) and are quick after.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test unit check lint complexity vulture test-python test-web bench package lock token clean

# The venv is the dev lock, every file checked against its hash (DEVELOPERS.md, "Dependencies").
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	@touch $(STAMP)

# Recompiles both locks from the .in files, keeping every pin the inputs allow (uv is in the dev
# lock). `make lock LOCK_FLAGS=--upgrade` (or --upgrade-package NAME) moves them forward.
# Universal: one lock for Linux, macOS and Windows; hashes of every file of each pinned version,
# so the Lambda's manylinux wheels are covered too. The dev lock is constrained by the runtime one.
LOCK_FLAGS ?=
COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_FLAGS)
lock: $(STAMP)
	$(COMPILE) requirements.in -o requirements.txt
	$(COMPILE) requirements-dev.in -o requirements-dev.txt

# Ports: make run API_PORT=9000 WEB_PORT=9080 ENGINE_PORT=9001 (the web app follows the API's port).
API_PORT ?= 8000
ENGINE_PORT ?= 8001
WEB_PORT ?= 8080
run: $(STAMP)
	@if [ -f web/package.json ] && [ ! -d web/node_modules ]; then (cd web && npm ci --ignore-scripts --no-audit --no-fund); fi
	$(PY) -m devlocal.stack --api-port $(API_PORT) --engine-port $(ENGINE_PORT) --web-port $(WEB_PORT)

test: lint test-python test-web

# `pytest --lf` re-runs only what failed last (the cache is on: .pytest_cache/, ignored by git).
unit: $(STAMP)
	$(PY) -m pytest tests/unit

check: lint
	$(PY) -m pytest tests/unit tests/api tests/engine

# ruff (with a complexity ceiling of 10) over all Python, mypy over app.py and chalicelib/: pyproject.toml;
# then the same ceiling by radon's measure over the product code.
lint: $(STAMP) complexity vulture
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Dead code in everything but the tests (a function only a test calls is dead in production).
# Names vulture cannot see used are in vulture_allowlist.py, each with its reason; the handlers
# Chalice calls through its decorators are skipped by decorator. VULTURE_CONFIDENCE=60 sweeps
# wider (unused functions, attributes), and the allow-list keeps that sweep clean too.
VULTURE_CONFIDENCE ?= 80
vulture: $(STAMP)
	$(VENV)/bin/vulture --min-confidence $(VULTURE_CONFIDENCE) --ignore-decorators "@app.*,@route,@partner_route" \
		app.py chalicelib devlocal infra bench vulture_allowlist.py

# The ceiling of 10 by radon's measure, which also counts each and/or (xenon's rank B is 6-10),
# over the product code.
complexity: $(STAMP)
	$(VENV)/bin/xenon --max-absolute B app.py chalicelib infra

test-python: $(STAMP)
	$(PY) -m pytest

test-web: $(STAMP)
	@if [ -x web/tests/run.sh ]; then web/tests/run.sh; else echo "web/tests/run.sh not present: no browser tests"; fi

bench: $(STAMP)
	$(PY) bench/storm.py

# The deployable artefacts of one stage in out/$(STAGE) (docs/deploy.md §4); nothing is deployed.
STAGE ?= dev
package: $(STAMP)
	$(PY) infra/package.py --stage $(STAGE) --slim out/$(STAGE)
	$(VENV)/bin/cfn-lint --regions eu-west-3 -- out/$(STAGE)/sam.yaml

clean:
	rm -rf $(VENV) .pytest_cache var out
