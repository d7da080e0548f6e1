"""Quality report stage: the night's table volumes into the ledger, then the static HTML report of the
ledger, attached to the flow run as artifacts (a summary, and a link when the lake is a local folder)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from quality.html_report import QualityReport, write_report
from quality.ledger import write_volumes


@task(retries=1, retry_delay_seconds=5)
def record_run_quality(run_date: date, days: int = 30) -> QualityReport:
    """Volumes of every raw table and mart, then the report of the `days` days up to `run_date`."""
    write_volumes(run_date)
    report = write_report(run_date, days)
    create_markdown_artifact(
        key="lakehouse-quality-report",
        markdown=report.to_markdown(),
        description=f"Quality report for {run_date}: {report.uri}",
    )
    if "://" not in report.uri:
        create_link_artifact(
            key="lakehouse-quality-report-file",
            link=Path(report.uri).resolve().as_uri(),
            link_text=f"Quality report {run_date} (static HTML)",
        )
    print(f"Quality report for {run_date}: {report.uri}")
    return report
