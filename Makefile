# SwiftDeploy — the two commands the README documents:
#   make deploy   set everything up (Python env, Docker engine, images) and deploy the stack here
#   make test     set everything up and run the whole test suite (unit, integration, e2e)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup deploy test test-deps unit bench clean

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
test-deps:
	bash scripts/install-test-deps.sh
	bash scripts/install-browser.sh
	VENV=$(VENV) bash scripts/install-opa-golib.sh

## Every test: unit, integration (real dockerd, nginx, sshd) and the end-to-end walkthrough.
test: setup test-deps
	$(BIN)/python -m pytest

## Unit tests alone: pure Python, no Docker engine, sshd, nginx or Ansible (see tests/conftest.py).
## Makes the Python env only when it cannot run them, so it needs no network once that exists.
unit:
	@$(BIN)/python -c 'import pytest, yaml, tasks' 2>/dev/null || $(MAKE) $(STAMP)
	$(BIN)/python -m pytest tests/unit

bench: setup
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_delivery.py
	$(BIN)/python scripts/bench_metrics.py
	$(BIN)/python scripts/bench_tls.py

clean:
	-$(BIN)/swiftdeploy teardown --clean
	rm -rf $(VENV)
