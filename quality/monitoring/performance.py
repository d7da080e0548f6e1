"""Performance degradation: the night's run and each of its stages against the median of the trailing runs,
from the run summaries the nightly flow writes (ops/runs/<date>/<run id>.json: seconds per stage), and each
flow run Prefect recorded (timings read from its API by orchestration/flow_timings.py)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from lakehouse.runs import run_records
from lakehouse.settings import Settings
from quality.monitoring.findings import MonitorCheck

TOTAL = "total"
CONFIGURED_IN = "LAKEHOUSE_PERF_* settings"
HINT = (
    "open the flow run in Prefect and compare its stage timings with an earlier night's; look for a larger "
    "delivery, a full refresh, or a busy machine"
)


@dataclass(frozen=True)
class RunTiming:
    run_date: date
    run_id: str
    started_at: datetime
    ok: bool
    seconds: dict[str, float]  # stage -> seconds, and TOTAL -> the whole run


def run_timings(up_to: date, settings: Settings, days: int = 60) -> list[RunTiming]:
    """Every summarised nightly run of the `days` run dates up to `up_to`, oldest start first."""
    first = up_to - timedelta(days=days)
    return [
        RunTiming(
            r.run_date,
            r.run_id,
            r.started_at,
            r.ok,
            {str(k): float(v) for k, v in r.stage_seconds.items()}
            | ({TOTAL: float(r.seconds)} if r.seconds is not None else {}),
        )
        for r in run_records(settings)
        if r.started_at is not None and first <= r.run_date <= up_to
    ]


def judge_stage(
    stage: str,
    current: float,
    history: list[float],
    settings: Settings,
    run: RunTiming,
    dataset: str | None = None,
) -> MonitorCheck:
    factor, floor = settings.lakehouse_perf_factor, settings.lakehouse_perf_min_seconds
    name = "whole run" if stage == TOTAL else stage if dataset else f"stage {stage}"
    base: dict[str, Any] = {
        "kind": "performance_degradation",
        "check_type": "performance",
        "dataset": dataset or f"nightly.{stage}",
        "name": f"{name} within {factor:g}x its trailing median",
        "configured_in": CONFIGURED_IN,
        "value": round(current, 3),
        "hint": HINT,
    }
    if len(history) < settings.lakehouse_perf_min_runs:
        have = f"{len(history)} of {settings.lakehouse_perf_min_runs}"
        return MonitorCheck(**base, outcome="skipped", detail=f"not judged: {have} earlier runs")
    median = statistics.median(history)
    slow = current > factor * median and current - median > floor
    threshold = f"<= {factor:g} x {median:.1f} s or < {median + floor:.1f} s"
    detail = (
        f"{name} of run {run.run_id} ({run.run_date}) took {current:.1f} s, "
        f"{current / median if median else 0:.1f}x the median {median:.1f} s of the last {len(history)} runs"
    )
    return MonitorCheck(**base, outcome="warned" if slow else "passed", threshold=threshold, detail=detail)


def performance_checks(day: date, settings: Settings, run_id: str | None = None) -> list[MonitorCheck]:
    """The checks of the run `run_id` of `day` (default: the newest run of `day`); none without a summary."""
    timings = run_timings(day, settings)
    of_day = [t for t in timings if t.run_date == day and (run_id is None or t.run_id == run_id)]
    return _judge_run(of_day[-1], timings, settings) if of_day else []


def flow_run_checks(
    day: date, timings: list[RunTiming], settings: Settings, flow_run: str | None = None
) -> list[MonitorCheck]:
    """Prefect's view (orchestration/flow_timings.py): the nightly flow run `flow_run` (default: the newest
    of `day`) and each of its stage flow runs against the same flows of earlier completed nightly runs.
    Keys are `flow <name>`; the ledger's dataset is `prefect.<name>`."""
    current = next((t for t in timings if t.run_id == flow_run), None)
    of_day = [t for t in timings if t.run_date == day]
    current = current or (of_day[-1] if of_day else None)
    return _judge_run(current, timings, settings, prefix="prefect.") if current else []


def _judge_run(
    current: RunTiming, timings: list[RunTiming], settings: Settings, prefix: str | None = None
) -> list[MonitorCheck]:
    """Each stage of `current` against the same stage of the earlier successful runs (the trailing ones)."""
    earlier = [t for t in timings if t.started_at < current.started_at and t.ok]
    earlier = earlier[-settings.lakehouse_perf_history :]
    return [
        judge_stage(
            stage,
            seconds,
            [t.seconds[stage] for t in earlier if stage in t.seconds],
            settings,
            current,
            dataset=prefix + stage.removeprefix("flow ") if prefix else None,
        )
        for stage, seconds in current.seconds.items()
    ]
