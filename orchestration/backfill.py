"""Backfill: run the nightly pipeline for a range of dates, in order, each once, resuming after a crash.

Plain functions under `lakehouse backfill` and the `lakehouse-backfill` flow. A date is complete when its
latest run summary in the lake says it succeeded (lakehouse/runs.py): a rerun of the same range skips
those and runs the rest, so a backfill killed in the middle of a date completes that date next time
(ingestion lands each batch exactly once; a decided publish is completed by the next run's recovery).
A date that fails does not stop the dates after it (each night's data stands on its own); the outcome
names every failed date.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from lakehouse.runs import completed_dates
from lakehouse.settings import Settings
from orchestration.summary import RunSummary

MAX_DAYS = 3660  # ten years: a typo in a year is a usage error, not a decade of runs


@dataclass(frozen=True)
class BackfillPlan:
    dates: list[date]  # every date of the range, in order
    complete: list[date]  # of those, the ones already complete (skipped unless forced)

    @property
    def to_run(self) -> list[date]:
        done = set(self.complete)
        return [d for d in self.dates if d not in done]


@dataclass(frozen=True)
class DateOutcome:
    run_date: date
    outcome: Literal["succeeded", "failed", "skipped"]
    seconds: float = 0.0
    detail: str = ""  # counts of a success, what failed of a failure, why a date was skipped

    def line(self) -> str:
        took = f"{self.seconds:6.1f} s" if self.outcome != "skipped" else " " * 8
        return f"{self.run_date}  {self.outcome:<9}  {took}  {self.detail}".rstrip()


@dataclass
class BackfillResult:
    outcomes: list[DateOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[date]:
        return [o.run_date for o in self.outcomes if o.outcome == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {k: sum(o.outcome == k for o in self.outcomes) for k in ("succeeded", "failed", "skipped")}


def date_range(first: date, last: date) -> list[date]:
    """Every date from `first` to `last`, both included; ValueError when the range is backwards or huge."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}: give the earlier date first")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise ValueError(f"--from {first} --to {last} is {days} dates: at most {MAX_DAYS} in one backfill")
    return [first + timedelta(days=n) for n in range(days)]


def plan_backfill(
    first: date, last: date, force: bool = False, settings: Settings | None = None
) -> BackfillPlan:
    """The dates to run: the whole range, less the dates already complete in the lake (unless `force`)."""
    dates = date_range(first, last)
    done = set() if force else completed_dates(settings)
    return BackfillPlan(dates, [d for d in dates if d in done])


def success_detail(summary: RunSummary) -> str:
    """One line of counts for a date that succeeded."""
    rows = sum(t.rows_landed for t in summary.landed)
    parts = [f"{rows:,} rows landed"]
    if summary.marts_skipped:
        parts.append("marts already ahead")
    elif summary.published:
        parts.append(f"{len(summary.published)} marts published")
    if summary.feature_rows is not None:
        parts.append(f"{summary.feature_rows:,} feature rows")
    return ", ".join(parts)


def failure_detail(exc: BaseException) -> str:
    """One line of what failed: the summary's first problem for a failed run, else the error."""
    summary = getattr(exc, "summary", None)
    if isinstance(summary, RunSummary) and summary.problems:
        more = len(summary.problems) - 1
        where = f"stopped at the {summary.stopped_at}: " if summary.stopped_at else ""
        return where + summary.problems[0] + (f" (+{more} more)" if more > 0 else "")
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}".rstrip(
        ": "
    )


def run_backfill(
    plan: BackfillPlan,
    run_one: Callable[[date], RunSummary],
    report: Callable[[DateOutcome], None] = lambda outcome: None,
) -> BackfillResult:
    """Run `run_one` for each date of the plan to run, in order, exactly once; the complete dates are
    reported as skipped. A date that raises is a failed date; the next dates still run."""
    result = BackfillResult()
    to_run = set(plan.to_run)
    for day in plan.dates:
        if day not in to_run:
            outcome = DateOutcome(day, "skipped", detail="already complete")
        else:
            started = time.perf_counter()
            try:
                summary = run_one(day)
                outcome = DateOutcome(
                    day, "succeeded", time.perf_counter() - started, success_detail(summary)
                )
            except Exception as exc:
                outcome = DateOutcome(day, "failed", time.perf_counter() - started, failure_detail(exc))
        result.outcomes.append(outcome)
        report(outcome)
    return result


class BackfillFailed(RuntimeError):
    """Some dates of a backfill failed; `result` has every date's outcome."""

    def __init__(self, result: BackfillResult) -> None:
        failed = ", ".join(d.isoformat() for d in result.failed)
        super().__init__(f"the backfill failed for {len(result.failed)} date(s): {failed}")
        self.result = result
