# Shuyu (数域). Two commands on a fresh Debian machine, as root:
#   make run   - install what is missing, create the demo world, start the hub on :8000
#   make test  - install what is missing, lint, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := .make
export SHUYU_HOME ?= $(CURDIR)/var

.PHONY: run test lint format deps bench clean

deps: $(STAMP)/debian $(STAMP)/venv $(STAMP)/node

$(STAMP)/debian: scripts/debian-deps.sh
	@mkdir -p $(STAMP)
	bash scripts/debian-deps.sh
	@touch $@

$(STAMP)/venv: pyproject.toml science.lock $(STAMP)/debian
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,science]' -c science.lock
	@touch $@

$(STAMP)/node: package.json package-lock.json $(STAMP)/debian
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: deps
	$(VENV)/bin/shuyu init
	$(VENV)/bin/shuyu demo
	$(VENV)/bin/shuyu demo-info
	exec $(VENV)/bin/shuyu up

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VENV)/bin/pytest

format: deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: deps
	$(VENV)/bin/python -m benchmarks

clean:
	rm -rf $(STAMP) $(VENV) node_modules
