# podwarden: the two commands a fresh machine needs are `make up` and `make test`.
# Each creates .venv from uv.lock and builds (or reuses) the Kubernetes binaries first: `up` the
# default release only, `test` every release the tests run (k8s-all).

PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := .venv
UV := $(VENV)/bin/uv

.PHONY: up test check unit integration venv k8s k8s-all chromium bench clean-venv

# UP_ARGS: further options of `podwarden up` (`make up UP_ARGS="--port 0"`)
UP_ARGS ?=

up: venv k8s
	$(VENV)/bin/podwarden up $(UP_ARGS)

test: venv k8s-all chromium check
	$(VENV)/bin/pytest

check: venv
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: venv
	$(VENV)/bin/pytest tests/unit tests/golden

integration: venv k8s-all chromium
	$(VENV)/bin/pytest tests/integration

# every benchmark, into one dated results file (bench/results/<date>.json; bench/all.py)
bench: venv k8s
	$(UV) sync --locked --all-groups
	$(VENV)/bin/python bench/all.py

# The venv is rebuilt whenever the lock file or the project metadata changes.
venv: $(VENV)/.synced

$(VENV)/.synced: uv.lock pyproject.toml
	test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install --quiet "uv==$(UV_VERSION)"; }
	UV_PYTHON_DOWNLOADS=never $(UV) sync --locked --python $(VENV)/bin/python
	touch $@

# headless Chromium for the dashboard's browser tests, from the machine's packages
chromium:
	scripts/ensure-chromium

# what a control plane runs (kubectl and helm come with k8s-all)
k8s:
	PYTHON=$(PYTHON) scripts/build-k8s --serve

# everything: kubectl and helm too, and the further Kubernetes minors (toolchain.toml's kubernetes_releases) that EKS clusters
# are created at or upgraded to in the integration tests
k8s-all:
	PYTHON=$(PYTHON) scripts/build-k8s --kubernetes all

clean-venv:
	rm -rf $(VENV)
