"""Transform stage: `dbt build` of dbt_project/ for a logical date; each dbt node is its own task run."""

from __future__ import annotations

from datetime import date

from prefect import flow

from lakehouse.transform import DbtSummary, run_dbt_build
from orchestration.dbt_task_runs import DbtNodeTaskRuns
from orchestration.flows.common import resolve_run_date, run_flow_cli


@flow(name="dbt-transform", log_prints=True)
def dbt_transform(
    run_date: date | None = None,
    full_refresh: bool = False,
    select: str | None = None,
    run_id: str | None = None,
) -> DbtSummary:
    """Build staging, intermediate and mart models and run their tests. The marts are written as
    write-audit-publish candidates: of `run_id` for the caller to audit and publish, or (without it)
    published by dbt when every node passed."""
    day = resolve_run_date(run_date)
    node_runs = DbtNodeTaskRuns()  # a task run per dbt node, from the events of one in-process dbt build
    return run_dbt_build(day, full_refresh=full_refresh, select=select, run_id=run_id, callbacks=[node_runs])


if __name__ == "__main__":
    run_flow_cli(dbt_transform)
