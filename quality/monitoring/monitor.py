"""The monitor of a run date: freshness, volume anomalies, schema drift and performance, judged from the lake
(Delta logs, the quality ledger, the run summaries) and recorded in the quality ledger (layer `monitor`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pyarrow as pa

from lakehouse.settings import Settings, get_settings
from quality.ledger import write_monitor
from quality.monitoring.findings import MonitorCheck, MonitorReport
from quality.monitoring.freshness import freshness_checks
from quality.monitoring.performance import RunTiming, flow_run_checks, performance_checks
from quality.monitoring.policy import table_policies
from quality.monitoring.volume import volume_checks

DRIFT_HINT = "the source sends a column its registry entry does not declare: declare it (or ask the sender)"


def drift_checks(day: date, ledger: pa.Table | None) -> list[MonitorCheck]:
    """The schema drift ingestion recorded for `day` (ledger layer ingest), as findings."""
    if ledger is None:
        return []
    import duckdb

    with duckdb.connect() as con:
        con.register("ledger", ledger)
        rows = con.execute(
            "SELECT dataset, contract, detail FROM ledger WHERE layer = 'ingest' "
            "AND check_type = 'schema_drift' AND run_date = ? ORDER BY dataset, detail",
            [day],
        ).fetchall()
    return [
        MonitorCheck(
            kind="schema_drift",
            check_type="schema_drift",
            dataset=str(dataset),
            name="schema as registered",
            outcome="warned",
            configured_in=str(contract),
            detail=str(detail),
            hint=DRIFT_HINT,
        )
        for dataset, contract, detail in rows
    ]


def run_monitor(
    run_date: date,
    settings: Settings | None = None,
    now: datetime | None = None,
    run_id: str | None = None,
    performance: bool = True,
    flow_timings: Callable[[], list[RunTiming]] | None = None,
    flow_run: str | None = None,
) -> MonitorReport:
    """Every check of `run_date`; freshness is judged as of `now` (default: now), performance (unless off)
    for the run `run_id` (default: the date's newest run), and with `flow_timings` (what Prefect recorded of
    the nightly flow runs) for the flow run `flow_run` (default: the date's newest) and its stage flows.
    A check that cannot run is a problem of the report, not an exception."""
    from quality.html_report import read_ledger

    settings = settings or get_settings()
    report = MonitorReport(run_date)
    now = now or datetime.now(UTC)
    try:
        policies = table_policies(settings)
        ledger = read_ledger(settings)
    except Exception as exc:  # e.g. an invalid registry or quality/monitor.yml: say so, judge nothing
        report.problems.append(f"{type(exc).__name__}: {exc}")
        return report
    steps: dict[str, Callable[[], list[MonitorCheck]]] = {
        "freshness": lambda: freshness_checks(policies, settings, now),
        "volume": lambda: volume_checks(policies, run_date, ledger),
        "schema drift": lambda: drift_checks(run_date, ledger),
        "performance": lambda: performance_checks(run_date, settings, run_id) if performance else [],
        "Prefect flow run": lambda: (
            flow_run_checks(run_date, flow_timings(), settings, flow_run)
            if performance and flow_timings
            else []
        ),
    }
    for name, step in steps.items():
        try:
            report.checks += step()
        except Exception as exc:
            report.problems.append(f"the {name} checks failed: {type(exc).__name__}: {exc}")
    return report


def record_monitor(report: MonitorReport, settings: Settings | None = None, run_id: str | None = None) -> int:
    """Replace the ledger's monitor rows of the report's date (drift is in the ledger already)."""
    rows = [c.ledger_row() for c in report.checks if c.check_type != "schema_drift"]
    return write_monitor(rows, report.run_date, settings, run_id)
