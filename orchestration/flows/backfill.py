"""The backfill flow: the nightly run for every date from `from_date` to `to_date`, in order, each once.

Wiring only (orchestration/backfill.py has the logic): dates already complete in the lake are skipped, so
rerunning a killed backfill resumes it; each date is a `lakehouse-nightly` subflow run. The flow holds the
lake's run lease for the whole range and fails at the end naming the dates that failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # `python orchestration/flows/backfill.py`: see nightly.py
    sys.path[0] = str(Path(__file__).resolve().parents[2])

from datetime import date

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from lakehouse.lease import run_lease
from orchestration.backfill import BackfillFailed, BackfillResult, plan_backfill, run_backfill
from orchestration.flows.common import resolve_run_date, run_flow_cli
from orchestration.flows.nightly import lakehouse_nightly


def _markdown(first: date, last: date, result: BackfillResult) -> str:
    lines = [
        f"# Backfill {first} to {last}",
        "",
        "| date | outcome | seconds | detail |",
        "|---|---|---:|---|",
    ]
    for o in result.outcomes:
        lines.append(f"| {o.run_date} | {o.outcome} | {o.seconds:.1f} | {o.detail} |")
    return "\n".join(lines)


@flow(name="lakehouse-backfill", log_prints=True)
def lakehouse_backfill(
    from_date: date | None = None,
    to_date: date | None = None,
    scale: float | None = None,
    sources: list[str] | None = None,
    force: bool = False,
    wait: bool = False,
) -> BackfillResult:
    """Run the nightly pipeline for each date from `from_date` to `to_date` (default: the scheduled date,
    for both), skipping the dates already complete (`force`: rerun them too)."""
    last = resolve_run_date(to_date)
    first = resolve_run_date(from_date) if from_date is not None else last
    plan = plan_backfill(first, last, force)
    print(f"Backfill {first} to {last}: {len(plan.to_run)} to run, {len(plan.complete)} already complete")
    with run_lease(f"lakehouse backfill --from {first} --to {last}", wait=wait):
        result = run_backfill(
            plan,
            lambda day: lakehouse_nightly(run_date=day, scale=scale, sources=sources),
            lambda outcome: print(outcome.line()),
        )
    create_markdown_artifact(key="lakehouse-backfill", markdown=_markdown(first, last, result))
    if not result.ok:
        raise BackfillFailed(result)
    return result


if __name__ == "__main__":
    run_flow_cli(lakehouse_backfill)
