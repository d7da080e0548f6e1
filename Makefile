# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := $(PYTHON) -m uv
VENV := .venv
BIN := $(VENV)/bin
DATE ?=
SCALE ?=
RUN_ARGS := $(if $(DATE),--date $(DATE)) $(if $(SCALE),--scale $(SCALE))

# Telemetry of Prefect, dbt, Soda and MLflow stays off (the settings module does the same for the Python entry points).
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export DBT_SEND_ANONYMOUS_USAGE_STATS ?= false
export SODA_CORE_TELEMETRY_ENABLED ?= false
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install run test unit lint format docs bench clean help
.PHONY: ui ui-stop ui-status ui-trigger chromium system-tools mlflow-ui ml-demo

help:
	@echo "make run    - set up and run the nightly pipeline for today on the local lake (DATE=YYYY-MM-DD SCALE=N)"
	@echo "make test   - set up, lint and run the whole test suite"
	@echo "make unit   - fast tests only (no moto/Prefect servers, no full pipeline)"
	@echo "make lint   - ruff + mypy"
	@echo "make docs   - dbt docs generate on the local lake"
	@echo "make bench  - the project against its floor at BENCH_SCALES, then BENCH_NIGHTS nights (docs/BENCHMARKS.md)"
	@echo "make ui     - Prefect server + UI on 127.0.0.1:4200, the *-local deployments and a worker (UI_PORT=N)"
	@echo "make ui-trigger - run the nightly deployment through the worker and watch it (DATE=YYYY-MM-DD)"
	@echo "make ui-stop    - stop the server and the worker that make ui started (make ui-status: are they up?)"
	@echo "make ml-demo    - demo history (ML_DAYS dates at ML_SCALE), then train, register and promote a model"
	@echo "make mlflow-ui  - MLflow's UI on 127.0.0.1:$(MLFLOW_PORT) over the lake's runs and registry"

# Bootstrap: uv from PyPI if missing, then the locked environment (uv.lock) — the only install step.
$(VENV)/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
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

test: install tools/checkov/.venv/.installed system-tools lint
	$(BIN)/pytest --durations=25

unit: install
	$(BIN)/pytest -m "not integration"

docs: install
	cd dbt_project && ../$(BIN)/dbt docs generate

# Not part of `make test`: the project and its floor (bench/README.md) on the same generated data, medians of
# BENCH_RUNS runs per scale, then an incremental series of BENCH_NIGHTS nights and a full refresh.
BENCH_SCALES ?= 200 2000
BENCH_RUNS ?= 3
BENCH_NIGHTS ?= 7
BENCH_SERIES_SCALE ?=
# BENCH_HISTORY_DAYS dates of history at BENCH_HISTORY_SCALE, then a night of about 1 % new rows and its full refresh.
BENCH_HISTORY_DAYS ?= 100
BENCH_HISTORY_SCALE ?= 20
BENCH_WORK ?= .bench
BENCH_OUT ?= $(BENCH_WORK)/results.md
# Prefect's fixed cost (start-up to first task, overhead per dbt node) at scale 1 against a running server:
# BENCH_PREFECT_API (default: the bench starts its own), BENCH_OVERHEAD_RUNS (default BENCH_RUNS; 0: none).
BENCH_PREFECT_API ?=
BENCH_OVERHEAD_RUNS ?= $(BENCH_RUNS)

bench: install
	$(BIN)/python -m bench --scales $(BENCH_SCALES) --runs $(BENCH_RUNS) --nights $(BENCH_NIGHTS) \
		$(if $(BENCH_SERIES_SCALE),--series-scale $(BENCH_SERIES_SCALE)) --work $(BENCH_WORK) --out $(BENCH_OUT) \
		--history-days $(BENCH_HISTORY_DAYS) --history-scale $(BENCH_HISTORY_SCALE) \
		--overhead-runs $(BENCH_OVERHEAD_RUNS) $(if $(BENCH_PREFECT_API),--prefect-api $(BENCH_PREFECT_API))

clean:
	rm -rf .bench lake .lakehouse dbt_project/target dbt_project/logs .pytest_cache .mypy_cache .ruff_cache

# checkov pins its own boto3, so it lives in a locked environment of its own (tools/checkov/uv.lock).
tools/checkov/.venv/.installed: tools/checkov/pyproject.toml tools/checkov/uv.lock
	$(UV) sync --frozen --project tools/checkov --python $(PYTHON)
	@touch $@

# The local Prefect stack (orchestration/local.py): a real server with its SQLite state in .prefect/, the
# prefect.yaml `*-local` deployments and a worker, all in the background; `make ui-stop` stops exactly those.
UI_PORT ?= 4200
UI := $(BIN)/python -m orchestration.local

ui: install
	$(UI) up --port $(UI_PORT)

ui-stop:
	@if [ -x $(BIN)/python ]; then $(UI) down --port $(UI_PORT); fi

ui-status: install
	@$(UI) status --port $(UI_PORT)

ui-trigger: install
	$(UI) trigger --port $(UI_PORT) $(if $(DATE),--date $(DATE))

# MLflow: runs and the model registry of the lake (MLFLOW_TRACKING_URI, else the SQLite file beside the catalog;
# artifacts in <lake>/ml/mlflow). The UI is MLflow's own server, bound to loopback.
MLFLOW_PORT ?= 5000
ML_DAYS ?= 75
ML_SCALE ?= 0.2

mlflow-ui: install
	$(BIN)/mlflow ui --host 127.0.0.1 --port $(MLFLOW_PORT) --workers 1 \
		--backend-store-uri "$$($(BIN)/python -c 'from lakehouse.settings import get_settings; print(get_settings().mlflow_uri)')"

ml-demo: install
	$(BIN)/python orchestration/flows/ml/demo_history.py --days $(ML_DAYS) --scale $(ML_SCALE) $(if $(DATE),--date $(DATE))
	$(BIN)/python orchestration/flows/ml/model_training_pipeline.py $(if $(DATE),--date $(DATE))

# System tools the tests use, from Debian's packages (installed only when missing; needs root, as in CI):
# headless Chromium for the UI tests, shellcheck for the shell scripts of docker/, terraform/ and workflows,
# the Postgres server binaries (initdb, pg_ctl) for the database source tests (tests/ingestion/conftest.py).
system-tools:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v shellcheck >/dev/null 2>&1 \
		|| ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			chromium shellcheck postgresql; \
	fi

chromium: system-tools
