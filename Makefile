# SwiftDeploy — the two commands the README documents:
#   make deploy   set everything up (Python env, Docker engine, images) and deploy the stack here
#   make test     set everything up and run the whole test suite (unit, integration, e2e)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup deploy test test-deps opa-golib unit mutation bench bench-swarm clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

## Python environment + Docker engine, compose v2 and images (idempotent).
setup: $(STAMP)
	$(BIN)/swiftdeploy bootstrap

## The main job: a real, policy-gated deploy of the stack on this machine.
deploy: setup
	$(BIN)/swiftdeploy deploy

## What the tests need besides `setup`: nginx for `nginx -t`, sshd for remote hosts, pebble as the
## ACME CA, OPA's Go evaluator, and Debian's chromium (with NSS's certutil) for the browser tests.
test-deps: opa-golib
	bash scripts/install-test-deps.sh
	bash scripts/install-browser.sh

## OPA's Go evaluator (the opa-golib-python-bindings wheel) in the venv, which the unit tests
## compare regopy with: a pip download, cached under .venv/cache; nothing happens once installed.
opa-golib:
	VENV=$(VENV) bash scripts/install-opa-golib.sh

## Every test: unit, integration (real dockerd, nginx, sshd) and the end-to-end walkthrough, on
## TEST_WORKERS processes (pytest-xdist); each test file runs whole on one worker (tests/conftest.py).
## Three on two cores: the tests mostly wait on containers (README, Testing). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 3
test: setup test-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## Unit tests alone: Python only, no Docker engine, sshd, nginx or Ansible (see tests/conftest.py).
## What they import is the venv with the [test] extra plus OPA's Go evaluator wheel; this makes
## either only when it is missing, so it needs no network once both exist (after `make deploy`,
## the first `make unit` downloads the wheel).
unit:
	@$(BIN)/python -c 'import pytest, yaml, tasks' 2>/dev/null || $(MAKE) $(STAMP)
	@$(MAKE) --no-print-directory opa-golib
	$(BIN)/python -m pytest tests/unit

## Mutation testing: how many seeded bugs in the pure modules the unit tier catches (kill rate per
## module, scripts/mutation.py; about 11 minutes on 2 cores). Not part of `test`, nor of CI.
## mutmut is installed under .venv/cache/mutation (pip --target), not into the venv.
mutation:
	@$(BIN)/python -c 'import pytest, yaml, tasks' 2>/dev/null || $(MAKE) $(STAMP)
	@$(MAKE) --no-print-directory opa-golib
	$(BIN)/python scripts/mutation.py

bench: setup
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_delivery.py
	$(BIN)/python scripts/bench_metrics.py
	$(BIN)/python scripts/bench_tls.py

## Swarm: a rolling update of 3 replicas against a raw `docker stack deploy`, and a worker killed
## under load, on three docker-in-docker nodes (scripts/bench_swarm.py). About 7.5 minutes on 2
## cores, so not part of `bench`. The node image is the one the swarm tests build (once, ~20 s).
bench-swarm: setup
	$(BIN)/python scripts/bench_swarm.py

clean:
	-$(BIN)/swiftdeploy teardown --clean
	rm -rf $(VENV)
