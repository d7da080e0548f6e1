"""One settings object for the whole stack, read at call time (never at import time).

Every value comes from the environment (or a git-ignored `.env`); defaults are the embedded default: a local
lake folder inside the repository, DuckDB, and Prefect's local ephemeral server.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"

# Telemetry of every tool is off unless the operator turns it on explicitly in the environment.
TELEMETRY_OFF = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    # MLflow reads DO_NOT_TRACK only when it is "true" (not "1"): its own switch is explicit.
    "MLFLOW_DISABLE_TELEMETRY": "true",
}

# Prefect's temporary ("ephemeral") API server answers only once it has started: imports, the database
# migration of a fresh PREFECT_HOME, block registration. On a 2-core machine that took 36 s idle and 210-380 s
# at load 20, against Prefect's default limit of 20 s (it counts only its 0.1 s polling sleeps: the wall time
# is longer). The limit is a limit, not a wait: a healthy server is used as soon as it answers.
STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
PREFECT_DEFAULTS = {STARTUP_TIMEOUT: "600"}
# Where the temporary server is started (SubprocessASGIServer.start) and how its error begins on a timeout.
PREFECT_SERVER_PY = os.path.join("prefect", "server", "api", "server.py")
EPHEMERAL_TIMED_OUT = "Timed out while attempting to connect to ephemeral Prefect API server"
USE_A_SERVER = "or start a server once with `make ui` and `export PREFECT_API_URL=http://127.0.0.1:4200/api`"

SET_ROOT = "set LAKEHOUSE_ROOT to a folder (e.g. ./lake) or to s3://bucket/prefix"
S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def check_lakehouse_root(value: str) -> str:
    """The lake root as given, or ValueError saying what is wrong with it and what to set (never a lake at /).

    Quotes are refused because the root ends up inside SQL string literals (DuckDB views, dbt models).
    """
    root = value.strip()
    scheme, sep, rest = root.partition("://")
    if not root or not root.rstrip("/"):
        problem = "is empty" if not root else f"is {value!r}, the file system root"
    elif any(quote in root for quote in "'\""):
        problem = f"contains a quote ({value!r}): the lake's paths go into SQL string literals"
    elif sep and scheme != "s3":
        hint = " (the scheme is lower-case s3://)" if scheme.lower() == "s3" else ""
        problem = f"is {value!r}: only local folders and s3:// are supported{hint}"
    elif sep and not S3_BUCKET.fullmatch(rest.split("/", 1)[0]):
        problem = f"is {value!r}: it names no valid S3 bucket (s3://<bucket>/<prefix>)"
    else:
        return root
    raise ValueError(f"LAKEHOUSE_ROOT {problem}; {SET_ROOT}.")


class Settings(BaseSettings):
    """Configuration of the lakehouse. Environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    lakehouse_root: str = Field(
        default=str(PROJECT_DIR / "lake"),
        description="Lake root: a local folder or s3://bucket/prefix. Every table is a Delta table under it.",
    )
    lakehouse_catalog: str | None = Field(
        default=None,
        description="DuckDB catalog file (views over the Delta tables); defaults to <lake>/_catalog for a "
        "local lake and .lakehouse/ in the project for S3.",
    )
    lakehouse_target: Literal["dev", "ci", "prod"] = "dev"
    lakehouse_sources_dir: Path = Field(
        default=PROJECT_DIR / "ingestion" / "sources",
        description="The source registry: one <name>.yml per source (ingestion/README.md).",
    )
    lakehouse_seed: int = 42
    lakehouse_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Lease on the lake (one run at a time, one commit of a batch): a holder killed with "
        "kill -9 blocks others at most this long; a live holder renews it every third of it.",
    )
    lakehouse_scale: float = 1.0
    lakehouse_duckdb_memory_limit: str = Field(
        default="2GB",
        pattern=r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$",
        description="DuckDB's memory_limit for every connection the stack opens (dbt's, the loader's, the "
        "gates'): past it DuckDB spills to lakehouse_spill_dir instead of growing.",
    )
    lakehouse_spill_dir: Path | None = Field(
        default=None,
        description="Where DuckDB and delta-rs merges spill (default: <tmp>/lakehouse-spill).",
    )
    lakehouse_merge_memory_bytes: int = Field(
        default=1 << 30,
        gt=0,
        description="Memory of a Delta MERGE (delta-rs/DataFusion) before it spills to disk.",
    )

    lakehouse_alert_urls: SecretStr | None = Field(
        default=None,
        description="Alert receivers: comma-separated apprise URLs (json://host:port/path, slack://…, "
        "mmost://…, mailtos://user:password@host?to=…). Secret: only apprise's redacted form is ever shown.",
    )
    lakehouse_alert_block: str | None = Field(
        default=None,
        description="A Prefect notification block that also gets the alerts, as <block type slug>/<name> "
        "(e.g. slack-webhook/data-ops); its secrets stay in Prefect.",
    )
    # The monitor (quality/monitoring/): defaults a source, entity or mart can override (ingestion/README.md,
    # quality/monitor.yml).
    lakehouse_freshness_sla_hours: float = Field(
        default=26.0,
        gt=0,
        description="A raw table or mart whose newest data commit is older than this is a freshness breach "
        "(and `lakehouse status` shows it red), unless its source, entity or mart sets its own SLA.",
    )
    lakehouse_volume_sensitivity: float = Field(
        default=3.5,
        gt=0,
        description="Volume anomaly: how many robust standard deviations (MAD x 1.4826) from the weekday-"
        "adjusted median of the trailing window a day's rows may be.",
    )
    lakehouse_volume_training_days: int = Field(
        default=28, ge=7, description="Volume anomaly: trailing days the baseline is computed from."
    )
    lakehouse_volume_min_history: int = Field(
        default=14, ge=3, description="Volume anomaly: days of history a table needs before it is judged."
    )
    lakehouse_volume_min_change: float = Field(
        default=0.3,
        ge=0,
        description="Volume anomaly: a relative change smaller than this (0.3 = 30 %) is never an anomaly.",
    )
    lakehouse_volume_min_rows: int = Field(
        default=100,
        ge=0,
        description="Volume anomaly: tables that usually add fewer rows a day are not judged (too noisy).",
    )
    lakehouse_perf_factor: float = Field(
        default=2.0,
        gt=1,
        description="Performance degradation: a run or stage slower than this times its trailing median.",
    )
    lakehouse_perf_min_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Performance degradation: ... and at least this many seconds slower than the median.",
    )
    lakehouse_perf_history: int = Field(
        default=14, ge=1, description="Performance degradation: the trailing runs the median is taken over."
    )
    lakehouse_perf_min_runs: int = Field(
        default=3, ge=1, description="Performance degradation: earlier runs needed before a stage is judged."
    )

    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking and registry server (http://…, sqlite:///…); default: a SQLite store "
        "beside the catalog (<lake>/_catalog/mlflow.db locally, .lakehouse/mlflow.db for S3).",
    )
    lakehouse_ml_experiment: str = Field(
        default="customer-repurchase", description="MLflow experiment of the repurchase model's runs."
    )
    lakehouse_ml_model: str = Field(
        default="customer-repurchase",
        description="Registered MLflow model name (aliases champion/challenger).",
    )
    lakehouse_ml_label_days: int = Field(
        default=30, gt=0, description="Label window: a non-cancelled order within this many days after as_of."
    )
    lakehouse_ml_promotion_margin: float = Field(
        default=0.005,
        ge=0,
        description="A challenger replaces the champion only when its ROC AUC on the same holdout is higher "
        "by at least this much.",
    )
    lakehouse_ml_challenger_share: float = Field(
        default=0.2, ge=0, le=1, description="A/B: share of customers scored by the challenger."
    )
    lakehouse_ml_psi_threshold: float = Field(
        default=0.2,
        gt=0,
        description="Drift: a feature's or the score's PSI above this raises a drift alert.",
    )

    aws_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    aws_region: str = "us-east-1"
    aws_allow_http: bool = False

    @field_validator("lakehouse_root")
    @classmethod
    def _valid_root(cls, value: str) -> str:
        return check_lakehouse_root(value)

    @property
    def is_s3(self) -> bool:
        return self.lakehouse_root.startswith("s3://")

    @property
    def root(self) -> str:
        return self.lakehouse_root.rstrip("/")

    def uri(self, *parts: str) -> str:
        """URI of a path under the lake root, e.g. uri('raw', 'shop', 'orders')."""
        return "/".join([self.root, *(p.strip("/") for p in parts)])

    @property
    def spill_dir(self) -> Path:
        import tempfile

        return self.lakehouse_spill_dir or Path(tempfile.gettempdir()) / "lakehouse-spill"

    @property
    def catalog_path(self) -> Path:
        if self.lakehouse_catalog:
            return Path(self.lakehouse_catalog)
        if self.is_s3:
            return PROJECT_DIR / ".lakehouse" / "lakehouse.duckdb"
        return Path(self.root) / "_catalog" / "lakehouse.duckdb"

    @property
    def mlflow_uri(self) -> str:
        """MLflow's tracking and registry URI: MLFLOW_TRACKING_URI, else a SQLite file beside the catalog."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.catalog_path.parent / 'mlflow.db'}"

    def alert_urls(self) -> list[str]:
        """The alert receivers' apprise URLs (empty: alerts are off)."""
        text = self.lakehouse_alert_urls.get_secret_value() if self.lakehouse_alert_urls else ""
        return [url.strip() for url in text.split(",") if url.strip()]

    def storage_options(self) -> dict[str, str]:
        """Options for deltalake's object store; empty for a local lake."""
        if not self.is_s3:
            return {}
        opts = {"AWS_REGION": self.aws_region}
        if self.aws_endpoint_url:
            opts["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
        if self.aws_allow_http or (self.aws_endpoint_url or "").startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
        if self.aws_access_key_id:
            opts["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
        if self.aws_secret_access_key:
            opts["AWS_SECRET_ACCESS_KEY"] = self.aws_secret_access_key.get_secret_value()
        if self.aws_session_token:
            opts["AWS_SESSION_TOKEN"] = self.aws_session_token.get_secret_value()
        return opts


def get_settings() -> Settings:
    """Read the settings now; call this inside functions, never at module level."""
    return Settings()


def settings_problem(exc: ValidationError) -> str:
    """One line naming each invalid setting (by its environment variable) and what to set; never a value
    (pydantic's own message quotes the input, which may be a secret)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(message if message.startswith(name) else f"{name}: {message}")
    return "Invalid settings: " + "; ".join(problems)


@contextmanager
def exit_on_settings_problem() -> Iterator[None]:
    """Around an entry point: invalid settings end the process with one line on stderr and exit code 2 (a
    usage error: fix the environment), no traceback."""
    try:
        yield
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        print(settings_problem(exc), file=sys.stderr)
        raise SystemExit(2) from None


def apply_runtime_defaults() -> None:
    """Turn telemetry off and give Prefect's temporary server time to start on a busy machine (unless set
    explicitly), and point dbt at the project's profiles (this process)."""
    defaults = TELEMETRY_OFF | PREFECT_DEFAULTS
    new_prefect_keys = [k for k in defaults if k.startswith("PREFECT_") and k not in os.environ]
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT_DIR))
    os.environ.setdefault("DBT_PROJECT_DIR", str(DBT_PROJECT_DIR))
    if new_prefect_keys and "prefect.context" in sys.modules:
        # Prefect reads the environment once, on import (a flow file imports it first): make it read it again.
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


def _raised_starting_prefect_server(exc: BaseException | None) -> BaseException | None:
    """The exception (this one or one it was raised from) that SubprocessASGIServer.start raised, if any."""
    while exc is not None:
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_name == "start" and frame.f_code.co_filename.endswith(PREFECT_SERVER_PY):
                return exc
        exc = exc.__cause__ or exc.__context__
    return None


def prefect_server_problem(exc: BaseException) -> str | None:
    """What to do, in one line, when Prefect's temporary API server could not start; None for other errors."""
    if (failed := _raised_starting_prefect_server(exc)) is None:
        return None
    text = str(failed)
    if exited := re.search(r"exited with code (-?\d+)", text):
        return (
            f"Prefect's temporary API server exited with code {exited[1]} while starting (its error is "
            f"above): fix that, {USE_A_SERVER}."
        )
    if text.startswith(EPHEMERAL_TIMED_OUT):
        limit = os.environ.get(STARTUP_TIMEOUT, "20")
        more = max(1200, 2 * int(limit)) if limit.isdigit() else 1200
        return (
            f"Prefect's temporary API server did not start within {STARTUP_TIMEOUT}={limit} s (is the "
            f"machine busy?): raise it, e.g. `export {STARTUP_TIMEOUT}={more}`, {USE_A_SERVER}."
        )
    # e.g. httpx.ReadTimeout: each health check of the start-up loop waits 5 s at most (not a setting)
    first_line = text.splitlines()[0] if text else ""
    return (
        f"Prefect's temporary API server did not start ({type(failed).__name__}: {first_line}; is the "
        f"machine busy?): run again, {USE_A_SERVER}."
    )


@contextmanager
def exit_on_prefect_server_problem() -> Iterator[None]:
    """Around an entry point: a Prefect server that cannot be reached ends the process with one line on stderr
    and exit code 1 (no traceback); any other error is raised as it is."""
    try:
        yield
    except Exception as exc:
        if (problem := prefect_server_problem(exc)) is None:
            raise
        raise SystemExit(problem) from None
