"""The nightly flow: ingest -> raw quality gate -> dbt build -> marts quality gate -> features -> summary.

Wiring only: every step is a stage flow (visible on its own in the Prefect UI) over plain functions.
A blocking raw-quality failure stops the run before dbt publishes marts; quarantined input does not stop
the run (good data lands) but fails it at the end with what to fix.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # `python orchestration/flows/nightly.py`: the script's folder, whose ml/ is
    sys.path[0] = str(Path(__file__).resolve().parents[2])  # a flow package, must not hide the ml package

from datetime import date
from typing import Literal

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from lakehouse.settings import get_settings
from lakehouse.transform import DbtBuildFailed
from orchestration.flows.common import resolve_run_date, run_flow_cli
from orchestration.flows.etl.s3_data_pipeline import s3_data_pipeline
from orchestration.flows.ml.feature_engineering_pipeline import feature_engineering_pipeline
from orchestration.flows.monitoring.data_quality_monitor import data_quality_monitor
from orchestration.flows.monitoring.quality_report import quality_report
from orchestration.flows.transform.dbt_transform import dbt_transform
from orchestration.summary import QualityCounts, RunSummary, landings
from quality.ledger import write_dbt_results, write_drift


class PipelineFailed(RuntimeError):
    """The nightly run failed; `summary` says what landed and what failed."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__("\n".join(summary.problems))
        self.summary = summary


def _publish(summary: RunSummary) -> RunSummary:
    try:  # the night's volumes and the HTML quality report, on every outcome of the run
        summary.quality_report = quality_report(run_date=summary.run_date).uri
    except Exception as exc:
        summary.problems.append(f"the quality report could not be written: {type(exc).__name__}: {exc}")
    create_markdown_artifact(
        key="lakehouse-run-summary",
        markdown=summary.to_markdown(),
        description=f"Nightly lakehouse run for {summary.run_date}",
    )
    if not summary.ok:
        raise PipelineFailed(summary)
    return summary


def _quality_gate(
    summary: RunSummary, layer: Literal["raw", "marts"], stopped_at: str, sources: list[str] | None = None
) -> bool:
    """Verify one layer's contracts into the summary; on a blocking failure record it and return False."""
    report = data_quality_monitor(
        run_date=summary.run_date, layer=layer, fail_on_blocking=False, sources=sources
    )
    summary.quality.append(QualityCounts.from_outcomes(layer, report.outcome_counts()))
    if not report.blocking_failures:
        return True
    summary.problems += report.failure_messages()
    summary.stopped_at = stopped_at
    return False


@flow(name="lakehouse-nightly", log_prints=True)
def lakehouse_nightly(
    run_date: date | None = None,
    scale: float | None = None,
    full_refresh: bool = False,
    generate: bool = True,
    sources: list[str] | None = None,
    select: str | None = None,
) -> RunSummary:
    """Run the whole chain for one logical date (default: the scheduled date of this run), for every
    registered source (or `sources`) and every dbt model (or the `select`ed ones)."""
    day = resolve_run_date(run_date)
    settings = get_settings()
    summary = RunSummary(run_date=day, lake_root=settings.root, catalog=str(settings.catalog_path))

    reports = s3_data_pipeline(
        run_date=day, scale=scale, generate=generate, sources=sources, fail_on_problems=False
    )
    summary.landed = landings(reports)
    summary.problems += [p for r in reports for p in r.problems()]
    write_drift(reports, day)

    if not _quality_gate(summary, "raw", "raw quality gate (marts were not rebuilt)", sources):
        return _publish(summary)

    try:
        summary.dbt = dbt_transform(run_date=day, full_refresh=full_refresh, select=select)
    except DbtBuildFailed as exc:
        summary.dbt = exc.summary
        summary.problems.append(str(exc))
        summary.stopped_at = "dbt build"
        write_dbt_results(exc.summary, day)
        return _publish(summary)
    write_dbt_results(summary.dbt, day)

    if not _quality_gate(summary, "marts", stopped_at="marts quality gate (features were not built)"):
        return _publish(summary)

    summary.feature_rows = feature_engineering_pipeline(run_date=day).customers
    return _publish(summary)


if __name__ == "__main__":
    run_flow_cli(lakehouse_nightly)
