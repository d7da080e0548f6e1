"""Transform stage: `dbt build` of dbt_project/ for a logical date; each dbt node is its own task run."""

from __future__ import annotations

from datetime import date

from prefect import flow

from lakehouse.transform import DbtSummary, run_dbt_build
from orchestration.flows.common import resolve_run_date, run_flow_cli


@flow(name="dbt-transform", log_prints=True)
def dbt_transform(
    run_date: date | None = None, full_refresh: bool = False, select: str | None = None
) -> DbtSummary:
    """Build staging, intermediate and mart models (Delta tables) and run their tests."""
    return run_dbt_build(resolve_run_date(run_date), full_refresh=full_refresh, select=select)


if __name__ == "__main__":
    run_flow_cli(dbt_transform)
