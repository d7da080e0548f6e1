"""The lake layout: one function per zone, so every path in the stack comes from here.

Zones under the lake root (a local folder or s3://bucket/prefix):

    landing/<source>/<date>/…          what arrived, as delivered (files, API pages, database extracts)
    raw/<source>/<entity>              typed Delta tables, append-only, one commit per batch
    quarantine/<source>/records        Delta table of rejected records (file, line, reason)
    quarantine/<source>/files/<date>/  copies of files that could not be read at all
    analytics/<model>                  dbt's Delta outputs (marts)
    features/<name>                    feature and label tables (customer_features, customer_labels)
    ml/<name>                          the model's outputs: scores, ab_assignments, the ml ledger (Delta)
    ml/mlflow                          MLflow's artifacts (models, model cards); its tracking store is
                                       MLFLOW_TRACKING_URI or a SQLite file beside the catalog
    quality/ledger                     the quality ledger (Delta)
    quality/reports/<date>.html        the static HTML quality report of a run date
    ops/<name>                         operational state (incremental windows of API and database sources)
    ops/runs/<date>/<run id>.json      the nightly run's summary (stage seconds, counts, outcome)
    ops/logs/<time>-<command>.log      the `lakehouse` command's log of a run (Prefect, dbt; local lakes)
    ops/alerts/<date>/<run>/<kind>.json  which receivers got a run's alert of that kind (sent once)

The catalog name of a raw table is `raw_<source>.<entity>` in DuckDB, dbt (`source('<source>', '<entity>')`)
and Soda (`lakehouse/raw_<source>/<entity>`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from lakehouse.settings import PROJECT_DIR, Settings, get_settings

ZONES = ("landing", "raw", "quarantine", "analytics", "features", "ml", "quality", "ops")


def _uri(settings: Settings | None, *parts: str) -> str:
    return (settings or get_settings()).uri(*parts)


def landing_dir(source: str, run_date: date, settings: Settings | None = None) -> str:
    """Where a date's deliveries of `source` land by default."""
    return _uri(settings, "landing", source, run_date.isoformat())


def landing_file(source: str, run_date: date, name: str, settings: Settings | None = None) -> str:
    return _uri(settings, "landing", source, run_date.isoformat(), name)


def raw_table(source: str, entity: str, settings: Settings | None = None) -> str:
    return _uri(settings, "raw", source, entity)


def raw_schema_name(source: str) -> str:
    """The catalog schema of a source's raw tables (dbt's source schema, Soda's dataset prefix)."""
    return f"raw_{source}"


def raw_schema_source(schema: str) -> str | None:
    """The source whose raw tables live in catalog schema `schema` (`raw_shop` -> `shop`), else None."""
    source = schema.removeprefix("raw_")
    return source if schema.startswith("raw_") and source else None


def quarantine_records(source: str, settings: Settings | None = None) -> str:
    return _uri(settings, "quarantine", source, "records")


def quarantine_file(source: str, run_date: date, name: str, settings: Settings | None = None) -> str:
    return _uri(settings, "quarantine", source, "files", run_date.isoformat(), name)


def analytics_table(model: str, settings: Settings | None = None) -> str:
    return _uri(settings, "analytics", model)


def features_table(name: str, settings: Settings | None = None) -> str:
    return _uri(settings, "features", name)


def ml_table(name: str, settings: Settings | None = None) -> str:
    """A Delta table of the ML zone: `scores`, `ab_assignments`, `ledger` (ml/README.md)."""
    return _uri(settings, "ml", name)


def mlflow_artifacts(settings: Settings | None = None) -> str:
    """Where MLflow keeps the artifacts (models, model cards) of the lake's experiments."""
    return _uri(settings, "ml", "mlflow")


def quality_ledger(settings: Settings | None = None) -> str:
    return _uri(settings, "quality", "ledger")


def quality_report(run_date: date, settings: Settings | None = None) -> str:
    """The HTML quality report of a run date (lakehouse quality report, the nightly run's artifact)."""
    return _uri(settings, "quality", "reports", f"{run_date.isoformat()}.html")


def ops_table(*parts: str, settings: Settings | None = None) -> str:
    return _uri(settings, "ops", *parts)


def run_summaries_dir(settings: Settings | None = None) -> str:
    """The folder of every nightly run's summary, one sub-folder per run date (`run_summary_file`)."""
    return _uri(settings, "ops", "runs")


def log_dir(settings: Settings | None = None) -> Path:
    """Where the `lakehouse` command writes its log files (Prefect's and dbt's logs of a run): the lake's
    ops/logs/ for a local lake, .lakehouse/logs/ in the project for a lake on S3 (a log file is local)."""
    settings = settings or get_settings()
    if settings.is_s3:
        return PROJECT_DIR / ".lakehouse" / "logs"
    return Path(settings.root) / "ops" / "logs"


def run_summary_file(run_date: date, run_id: str, settings: Settings | None = None) -> str:
    """The JSON summary of one nightly run (what landed, passed, was published; seconds per stage)."""
    return _uri(settings, "ops", "runs", run_date.isoformat(), f"{run_id}.json")


def full_refresh_requests(settings: Settings | None = None) -> str:
    """Requests that the next run rebuild the marts in full (e.g. after a batch retraction), one file each."""
    return _uri(settings, "ops", "full-refresh")


def alert_marker(run_date: date, run_key: str, kind: str, settings: Settings | None = None) -> str:
    """The record of which receivers got the alert of `kind` for one run (lakehouse.alerts: one message)."""
    return _uri(settings, "ops", "alerts", run_date.isoformat(), run_key, f"{kind}.json")
