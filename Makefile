# Two commands on a fresh clone: `make dev` (Dagster UI on the local AWS endpoint) and `make test`.
# Needs only Python 3.11+ and make: uv is installed into .tools/ and builds .venv from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
# The offline linters, locked apart in tools/lint/ (its pyproject.toml says why).
LINT_ENV := .tools/lint
# Use the machine's Python; never download one.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export DAGSTER_HOME := $(CURDIR)/.dagster_home
# dg finds the project's environment as the active one.
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# What `make dev` serves the UI with (e.g. DAGSTER_DEV="$(VENV)/bin/dg dev -p 3001"; `dagster dev -w workspace.yaml` works too).
DAGSTER_DEV ?= $(VENV)/bin/dg dev
# 1: the `spark` dependency group too (pyspark, for glueetl runs on the local endpoint). By default when
# Java is on PATH; `make test SPARK=0|1` overrides. Changing it re-syncs (one stamp per setting).
SPARK ?= $(if $(shell command -v java 2>/dev/null),1,0)

.PHONY: dev test smoke-selfhosted check typecheck lint deploy stop-local clean

dev: $(VENV)/.synced
	@mkdir -p $(DAGSTER_HOME)
	@# Starts the local AWS endpoint (port: GLUE_PIPES_LOCAL_PORT, from .env too), deploys glue_jobs/ to it
	@# (the plan prints here; the endpoint starts empty), then the UI; stops that endpoint, with its job
	@# runs, when the UI stops: Ctrl-C, closing the terminal, kill.
	@$(VENV)/bin/glue-pipes local-aws run --deploy -- $(DAGSTER_DEV)

test: $(VENV)/.synced
	@# Four workers on 2 cores: many tests wait on Glue runs and upstream's polls (those marked `waits`
	@# are spread through the session: tests/conftest.py); modules marked xdist_group share costly
	@# set-up on one worker.
	@# The linters' own tests run with `make lint`.
	@# The project's own modules compiled once too (the installed packages were, at sync).
	@$(VENV)/bin/python -m compileall -q glue_pipes_project packages/glue-pipes-local-aws tests
	$(VENV)/bin/pytest -n 4 --dist loadgroup -m "not lint"

# The self-hosted topology, really run (also part of `make test`): PostgreSQL 15, `dagster api grpc`, the
# daemon and the webserver on deploy/self-hosted/'s instance; prints the run and what Postgres holds.
smoke-selfhosted: $(VENV)/.synced
	$(VENV)/bin/pytest -p no:randomly -s -rs \
		tests/test_selfhosted.py::test_self_hosted_topology_materializes_a_glue_asset_through_the_queue

check: typecheck
	$(VENV)/bin/dg check defs
	$(VENV)/bin/dagster definitions validate

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy

# Workflows, Dockerfiles, the Compose file, dagster_cloud.yaml, the CloudFormation template and its
# policies: the files git knows, offline. tools/lint/run.py lists the linters.
lint: $(VENV)/.synced $(LINT_ENV)/.synced
	$(LINT_ENV)/bin/python tools/lint/run.py --project-bin $(VENV)/bin
	@# Each linter still catches a planted mistake (tests/test_lint.py, tests/test_infra_lint.py).
	$(VENV)/bin/pytest -n 2 -q -m lint

deploy: $(VENV)/.synced
	$(VENV)/bin/glue-pipes deploy

stop-local: $(VENV)/.synced
	$(VENV)/bin/glue-pipes local-aws stop

# A venv without pip of its own, filled by $(PYTHON)'s pip (seconds faster than ensurepip); where
# $(PYTHON) has no pip, the venv gets one.
$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	$(PYTHON) -m venv --without-pip .tools
	@if $(PYTHON) -m pip --version >/dev/null 2>&1; then \
		$(PYTHON) -m pip --python .tools/bin/python install --quiet --disable-pip-version-check uv==$(UV_VERSION); \
	else \
		.tools/bin/python -m ensurepip --default-pip >/dev/null && \
		.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); \
	fi

# Bytecode compiled once here: every process the suite starts (Dagster CLIs, code servers, Glue runs)
# would otherwise compile what it imports again, and never cache it where PYTHONDONTWRITEBYTECODE is set.
$(VENV)/.synced: $(VENV)/.synced-spark$(SPARK)
	@touch $@

$(VENV)/.synced-spark$(SPARK): uv.lock pyproject.toml packages/glue-pipes-local-aws/pyproject.toml | $(UV)
	@rm -f $(VENV)/.synced-spark*
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON) $(if $(filter 1,$(SPARK)),--group spark)
	@touch $@

$(LINT_ENV)/.synced: tools/lint/uv.lock tools/lint/pyproject.toml | $(UV)
	@# Its own environment: the VIRTUAL_ENV exported above names the project's.
	env -u VIRTUAL_ENV UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(LINT_ENV) $(UV) sync --frozen --project tools/lint --python $(PYTHON)
	@touch $@

clean:
	rm -rf .tools $(VENV) .dagster_home .pytest_cache
