# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := $(PYTHON) -m uv
VENV := .venv
BIN := $(VENV)/bin
DATE ?=
SCALE ?=
RUN_ARGS := $(if $(DATE),--date $(DATE)) $(if $(SCALE),--scale $(SCALE))

# Telemetry of Prefect, dbt and Soda stays off (the settings module does the same for the Python entry points).
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export DBT_SEND_ANONYMOUS_USAGE_STATS ?= false
export SODA_CORE_TELEMETRY_ENABLED ?= false

.PHONY: install run test unit lint format docs clean help

help:
	@echo "make run    - set up and run the nightly pipeline for today on the local lake (DATE=YYYY-MM-DD SCALE=N)"
	@echo "make test   - set up, lint and run the whole test suite"
	@echo "make unit   - fast tests only (no moto/Prefect servers, no full pipeline)"
	@echo "make lint   - ruff + mypy"
	@echo "make docs   - dbt docs generate on the local lake"

# Bootstrap: uv from PyPI if missing, then the locked environment (uv.lock) — the only install step.
$(VENV)/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --frozen --python $(PYTHON)
	@# The soda CLI loads the first .env found above its package: keep its telemetry off without touching yours.
	@echo "SODA_CORE_TELEMETRY_ENABLED=false" > $(VENV)/.env
	@touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/lakehouse run $(RUN_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install tools/checkov/.venv/.installed lint
	$(BIN)/pytest

unit: install
	$(BIN)/pytest -m "not integration"

docs: install
	cd dbt_project && ../$(BIN)/dbt docs generate

clean:
	rm -rf lake .lakehouse dbt_project/target dbt_project/logs .pytest_cache .mypy_cache .ruff_cache

# checkov pins its own boto3, so it lives in a locked environment of its own (tools/checkov/uv.lock).
tools/checkov/.venv/.installed: tools/checkov/pyproject.toml tools/checkov/uv.lock
	$(UV) sync --frozen --project tools/checkov --python $(PYTHON)
	@touch $@
