"""Ingestion stage: every registered source (or the named ones) lands a date's data as raw Delta tables.

One task per source: its delivery step (the demo generator, an API fetch, a database extract) writes
<lake>/landing/<source>/<date>/, then the generic loader lands <lake>/raw/<source>/<entity>. Each batch lands
exactly once, so retries and reruns are safe, and one source's failure does not hide another's data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow, task

from ingestion.pipeline import land_source
from ingestion.registry import get_source, load_registry
from ingestion.report import IngestReport
from lakehouse.layout import quarantine_records
from lakehouse.settings import get_settings
from orchestration.flows.common import resolve_run_date, run_flow_cli


class IngestionProblems(RuntimeError):
    """Files or records were quarantined, or a source failed; the message says which and what to fix."""


# CommitFailedError from a concurrent writer is transient: the retry is exactly-once safe, and it reports
# the batches its earlier attempts committed (after `started`, the flow's start) as landed by this run.
@task(retries=3, retry_delay_seconds=[2, 5, 10], task_run_name="land-{source_name}-{run_date}")
def land_source_task(
    source_name: str, run_date: date, generate: bool, scale: float | None, started: datetime | None = None
) -> IngestReport:
    source = get_source(source_name)
    return land_source(source, run_date, generate=generate, scale=scale, landed_since=started)


def failed_report(source_name: str, run_date: date, error: BaseException | None) -> IngestReport:
    why = f"{type(error).__name__}: {error}" if error else "see the task's log"
    message = f"landing failed after retries ({why}); what landed before the failure is kept"
    return IngestReport.failed(
        source_name, run_date, quarantine_records(source_name, get_settings()), message
    )


@flow(name="s3-data-pipeline", log_prints=True)
def s3_data_pipeline(
    run_date: date | None = None,
    scale: float | None = None,
    generate: bool = True,
    sources: list[str] | None = None,
    fail_on_problems: bool = True,
) -> list[IngestReport]:
    """Land one date's data of every registered source (or `sources`) as raw Delta tables."""
    day, started = resolve_run_date(run_date), datetime.now(UTC)
    names = sources or list(load_registry())
    futures = {name: land_source_task.submit(name, day, generate, scale, started) for name in names}
    reports = []
    for name, future in futures.items():
        future.wait()
        if future.state.is_completed():
            reports.append(future.result())
        else:
            error = future.state.result(raise_on_failure=False)
            reports.append(failed_report(name, day, error if isinstance(error, BaseException) else None))
    for report in reports:
        print(report.summary())
    problems = [p for r in reports for p in r.problems()]
    if fail_on_problems and problems:
        raise IngestionProblems("\n".join(problems))
    return reports


if __name__ == "__main__":
    run_flow_cli(s3_data_pipeline)
