"""Ingestion stage: the demo shop delivers a date's landing files, which land as raw Delta tables.

Landing files live under <lake>/landing/shop/<date>/ (a local folder or S3); raw tables under
<lake>/raw/shop/<entity>. Each batch lands exactly once, so retries and reruns are safe.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from ingestion.loader import ingest_date
from ingestion.report import IngestReport
from ingestion.shop.generator import generate_landing
from lakehouse.settings import get_settings
from orchestration.flows.common import resolve_run_date


class IngestionProblems(RuntimeError):
    """Files or records were quarantined; the message says which and what to fix."""


@task(retries=2, retry_delay_seconds=5)
def deliver_demo_files(run_date: date, scale: float, seed: int) -> list[str]:
    return generate_landing(run_date, scale=scale, seed=seed)


# CommitFailedError from a concurrent writer is transient: the retry is exactly-once safe.
@task(retries=3, retry_delay_seconds=[2, 5, 10])
def land_raw_tables(run_date: date) -> IngestReport:
    return ingest_date(run_date)


@flow(name="s3-data-pipeline", log_prints=True)
def s3_data_pipeline(
    run_date: date | None = None,
    scale: float | None = None,
    generate: bool = True,
    fail_on_problems: bool = True,
) -> IngestReport:
    """Land one date's files as raw Delta tables (optionally generating the demo shop's files first)."""
    day = resolve_run_date(run_date)
    settings = get_settings()
    if generate:
        deliver_demo_files(
            day, scale if scale is not None else settings.lakehouse_scale, settings.lakehouse_seed
        )
    report = land_raw_tables(day)
    print(report.summary())
    if fail_on_problems and report.has_problems:
        raise IngestionProblems("\n".join(report.problems()))
    return report


if __name__ == "__main__":
    s3_data_pipeline()
