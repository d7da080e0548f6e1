"""The smallest complete flow to copy from: deliver -> land -> transform -> check, for one source and date.

    python orchestration/flows/examples/example_data_pipeline.py [--date 2026-11-20] [--source shop]

Each step is one plain function from the project, wrapped as a Prefect task:
deliver (the source's demo delivery, if it has one), land (the generic loader: raw Delta tables, bad
records quarantined), transform (`dbt build` of the models that read that source), check (Soda contracts).
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from ingestion.loader import ingest_source
from ingestion.pipeline import deliver as deliver_step
from ingestion.registry import get_source
from ingestion.report import IngestReport
from lakehouse.settings import get_settings
from lakehouse.transform import DbtSummary, run_dbt_build
from orchestration.dbt_task_runs import DbtNodeTaskRuns
from orchestration.flows.common import resolve_run_date, run_flow_cli
from quality.report import ScanReport
from quality.scan import verify_contracts


@task
def deliver(source_name: str, run_date: date, scale: float) -> None:
    """Bring the date's data to landing/: a demo generator, an API or a database pull."""
    deliver_step(get_source(source_name), run_date, get_settings(), scale=scale)


@task(retries=2, retry_delay_seconds=5)
def land(source_name: str, run_date: date) -> IngestReport:
    return ingest_source(get_source(source_name), run_date)


@task
def transform(source_name: str, run_date: date) -> DbtSummary:
    return run_dbt_build(run_date, select=f"source:{source_name}+", callbacks=[DbtNodeTaskRuns()])


@task
def check(run_date: date) -> ScanReport:
    return verify_contracts(run_date, "all")


@flow(name="example-data-pipeline", log_prints=True)
def example_data_pipeline(run_date: date | None = None, source: str = "shop", scale: float = 0.2) -> bool:
    """deliver -> land -> transform -> check for one registered source; True when every step passed."""
    day = resolve_run_date(run_date)
    deliver(source, day, scale)
    landed = land(source, day)
    print(landed.summary())
    built = transform(source, day)
    print(f"dbt: {built.models_built} models built; {built.tests_failed} tests failed")
    checked = check(day)
    print(f"Soda: {checked.outcome_counts()}")
    for problem in landed.problems() + checked.failure_messages():
        print(f"problem: {problem}")
    return not landed.has_problems and checked.passed


if __name__ == "__main__":
    run_flow_cli(example_data_pipeline)
