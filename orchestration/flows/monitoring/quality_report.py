"""Quality report stage: the night's table volumes into the ledger, then the static HTML report of the
ledger, attached to the flow run as artifacts (a summary, and a link when the lake is a local folder)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from orchestration.flows.common import resolve_run_date, run_flow_cli
from quality.html_report import QualityReport, write_report
from quality.ledger import write_volumes


@task(retries=2, retry_delay_seconds=5)
def record_volumes(run_date: date) -> int:
    return write_volumes(run_date)


@task(retries=1, retry_delay_seconds=5)
def write_html_report(run_date: date, days: int) -> QualityReport:
    return write_report(run_date, days)


@flow(name="quality-report", log_prints=True)
def quality_report(run_date: date | None = None, days: int = 30, volumes: bool = True) -> QualityReport:
    """Record every raw table's and mart's row count (unless not `volumes`), then write the report of the
    `days` days up to `run_date` to <lake>/quality/reports/<date>.html."""
    day = resolve_run_date(run_date)
    if volumes:
        record_volumes(day)
    report = write_html_report(day, days)
    create_markdown_artifact(
        key="lakehouse-quality-report",
        markdown=report.to_markdown(),
        description=f"Quality report for {day}: {report.uri}",
    )
    if "://" not in report.uri:
        create_link_artifact(
            key="lakehouse-quality-report-file",
            link=Path(report.uri).resolve().as_uri(),
            link_text=f"Quality report {day} (static HTML)",
        )
    print(f"Quality report for {day}: {report.uri}")
    return report


if __name__ == "__main__":
    run_flow_cli(quality_report)
