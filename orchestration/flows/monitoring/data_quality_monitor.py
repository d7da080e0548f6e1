"""Quality stage: verify the Soda contracts of a layer for a logical date and record them in the ledger."""

from __future__ import annotations

from datetime import date
from typing import Literal

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from orchestration.flows.common import resolve_run_date, run_flow_cli
from quality.report import ScanReport
from quality.scan import verify_contracts, write_ledger


class QualityGateFailed(RuntimeError):
    """A blocking contract check failed; the message names each check and what to fix."""


@task(retries=1, retry_delay_seconds=5)
def verify(
    run_date: date,
    layer: Literal["raw", "marts", "all"],
    sources: list[str] | None = None,
    candidates_of: str | None = None,
) -> ScanReport:
    return verify_contracts(run_date, layer, sources=sources, candidates_of=candidates_of)


@task(retries=2, retry_delay_seconds=5)
def record_in_ledger(report: ScanReport, run_date: date) -> str:
    return write_ledger(report, run_date)


@flow(name="data-quality-monitor", log_prints=True)
def data_quality_monitor(
    run_date: date | None = None,
    layer: Literal["raw", "marts", "all"] = "all",
    fail_on_blocking: bool = True,
    sources: list[str] | None = None,
    candidates_of: str | None = None,
) -> ScanReport:
    """Soda contracts for raw tables and/or marts; fails on a blocking check unless told not to.

    Raw contracts run for `sources` (default: every source) whose raw tables exist; the rest are skipped.
    With `candidates_of` (a write-audit-publish run id) the marts contracts audit that run's candidates."""
    day = resolve_run_date(run_date)
    report = verify(day, layer, sources, candidates_of)
    record_in_ledger(report, day)
    create_table_artifact(
        key=f"quality-{layer}",
        table=[
            {"dataset": r.dataset, "check": r.name, "outcome": r.outcome, "level": r.level}
            for r in report.results
        ],
        description=f"Soda contracts ({layer}) for {day}: {report.outcome_counts()}",
    )
    print(f"Soda {layer} contracts for {day}: {report.outcome_counts()}")
    for skipped in report.skipped:
        print(f"Skipped {skipped}")
    if fail_on_blocking and report.blocking_failures:
        raise QualityGateFailed("\n".join(report.failure_messages()))
    return report


if __name__ == "__main__":
    run_flow_cli(data_quality_monitor)
