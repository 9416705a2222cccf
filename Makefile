# Shuyu (数域). Two commands on a fresh Debian machine, as root:
#   make run   - install what is missing, create the demo world, start the hub on :8000
#   make test  - install what is missing, lint, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SPU_VENV := .venv-spu
STAMP := .make
export SHUYU_HOME ?= $(CURDIR)/var

.PHONY: run test lint format deps bench clean kubernetes

deps: $(STAMP)/debian $(STAMP)/venv $(STAMP)/node $(STAMP)/spu

$(STAMP)/debian: scripts/debian-deps.sh
	@mkdir -p $(STAMP)
	bash scripts/debian-deps.sh
	@touch $@

$(STAMP)/venv: pyproject.toml science.lock $(STAMP)/debian
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,science]' -c science.lock
	@touch $@

# The MPC engine (SPU) needs numpy < 2: a venv of its own, with the repo on its path (a .pth file)
# so the node processes it runs can `import privacy`.
$(STAMP)/spu: privacy/spu.lock $(STAMP)/debian
	test -x $(SPU_VENV)/bin/python || $(PYTHON) -m venv $(SPU_VENV)
	$(SPU_VENV)/bin/pip install -q --upgrade pip
	$(SPU_VENV)/bin/pip install -q -r privacy/spu.lock
	echo "$(CURDIR)" > "$$($(SPU_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/shuyu-repo.pth"
	$(SPU_VENV)/bin/python -c 'import spu, pandas, pyarrow, privacy.spec'
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

# The Kubernetes control plane (1.20, from Debian's source package) the cluster e2e suite runs
# against, built once per machine into a cache outside the clone (≈10 min); a no-op once built.
kubernetes: $(STAMP)/debian
	bash scripts/kubernetes-build.sh

test: lint kubernetes
	$(VENV)/bin/pytest

format: deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: deps
	$(VENV)/bin/python -m benchmarks

clean:
	rm -rf $(STAMP) $(VENV) $(SPU_VENV) node_modules
