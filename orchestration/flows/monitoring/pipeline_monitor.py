"""Monitor stage: freshness SLAs, volume anomalies, schema drift and performance degradation of a run date,
into the quality ledger (layer `monitor`), one alert per kind of finding. The nightly flow runs it after the
pipeline on every outcome; `python orchestration/flows/monitoring/pipeline_monitor.py --date D` runs it alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from lakehouse.layout import quality_report
from orchestration.alerts import alert_findings
from orchestration.flow_timings import nightly_flow_timings
from orchestration.flows.common import resolve_run_date, run_flow_cli
from quality.monitoring.findings import MonitorReport
from quality.monitoring.monitor import record_monitor, run_monitor


@task(retries=1, retry_delay_seconds=5)
def judge(run_date: date, as_of: datetime | None, run_id: str | None, performance: bool) -> MonitorReport:
    root = flow_run.get_root_flow_run_id()  # the nightly run when the monitor runs inside it
    return run_monitor(
        run_date,
        now=as_of,
        run_id=run_id,
        performance=performance,
        flow_timings=lambda: nightly_flow_timings(run_date),
        flow_run=str(root) if root else None,
    )


@task(retries=2, retry_delay_seconds=5)
def record(report: MonitorReport, run_id: str | None) -> int:
    return record_monitor(report, run_id=run_id)


def _as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@flow(name="lakehouse-monitor", log_prints=True)
def lakehouse_monitor(
    run_date: date | None = None,
    as_of: str | None = None,
    run_id: str | None = None,
    performance: bool = True,
    alert: bool = True,
) -> MonitorReport:
    """Judge a run date: freshness as of `as_of` (ISO time, default now), volume from the ledger's row
    counts, drift from ingestion, (`performance`) the run `run_id`'s stage timings (default: the date's
    newest run) against the trailing runs; record it in the ledger, (`alert`) one alert per kind found."""
    day = resolve_run_date(run_date)
    report = judge(day, _as_of(as_of), run_id, performance)
    record(report, run_id)
    if alert:
        report.alerts = alert_findings(report, quality_report(day))
    create_markdown_artifact(
        key="lakehouse-monitor", markdown=report.to_markdown(), description=f"Monitor for {day}"
    )
    print(f"Monitor for {day}: {report.counts()}")
    for line in report.lines() + report.alerts:
        print(line)
    return report


if __name__ == "__main__":
    run_flow_cli(lakehouse_monitor)
