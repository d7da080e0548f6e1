"""The backfill's plan and loop without the pipeline: which dates run, in order, once; failures named."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from lakehouse.files import write_text
from lakehouse.layout import run_summary_file
from lakehouse.runs import completed_dates, run_records
from lakehouse.settings import Settings
from orchestration.backfill import (
    BackfillFailed,
    date_range,
    plan_backfill,
    run_backfill,
)
from orchestration.summary import RunSummary

DAY = date(2026, 11, 1)


def _summary_file(settings: Settings, day: date, ok: bool, minute: int) -> None:
    started = datetime(2026, 12, 1, 3, minute, tzinfo=UTC)
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-abcdef01"
    data = {"run_date": day.isoformat(), "run_id": run_id, "ok": ok, "started_at": started.isoformat()}
    data |= {"seconds": 12.5, "problems": [] if ok else ["raw_shop.orders: duplicate order_id"]}
    write_text(run_summary_file(day, run_id, settings), json.dumps(data), settings)


def test_date_range_is_inclusive_and_refuses_a_backwards_range():
    assert date_range(DAY, DAY + timedelta(days=2)) == [DAY + timedelta(days=n) for n in range(3)]
    assert date_range(DAY, DAY) == [DAY]
    with pytest.raises(ValueError, match="before --from"):
        date_range(DAY, DAY - timedelta(days=1))
    with pytest.raises(ValueError, match="at most"):
        date_range(DAY, DAY + timedelta(days=5000))


def test_a_date_is_complete_when_its_latest_run_succeeded(lake_settings):
    _summary_file(lake_settings, DAY, ok=True, minute=1)
    _summary_file(lake_settings, DAY + timedelta(days=1), ok=True, minute=2)
    _summary_file(lake_settings, DAY + timedelta(days=1), ok=False, minute=3)  # a later rerun failed
    _summary_file(lake_settings, DAY + timedelta(days=2), ok=False, minute=4)
    _summary_file(lake_settings, DAY + timedelta(days=2), ok=True, minute=5)  # fixed by its rerun
    assert [r.minute for r in (rec.started_at for rec in run_records(lake_settings)) if r] == [1, 2, 3, 4, 5]
    assert completed_dates(lake_settings) == {DAY, DAY + timedelta(days=2)}

    plan = plan_backfill(DAY, DAY + timedelta(days=3), settings=lake_settings)
    assert plan.to_run == [DAY + timedelta(days=1), DAY + timedelta(days=3)]
    assert plan_backfill(DAY, DAY + timedelta(days=3), force=True, settings=lake_settings).complete == []


def test_the_loop_runs_each_date_once_in_order_and_names_the_failed_ones(lake_settings):
    _summary_file(lake_settings, DAY, ok=True, minute=1)
    plan = plan_backfill(DAY, DAY + timedelta(days=3), settings=lake_settings)
    ran: list[date] = []
    reported: list[str] = []

    def run_one(day: date) -> RunSummary:
        ran.append(day)
        if day == DAY + timedelta(days=2):
            summary = RunSummary(day, lake_settings.root, "catalog", problems=["bad [x] batch"])
            summary.stopped_at = "raw quality gate"
            from orchestration.flows.nightly import PipelineFailed

            raise PipelineFailed(summary)
        return RunSummary(day, lake_settings.root, "catalog", feature_rows=10)

    result = run_backfill(plan, run_one, lambda outcome: reported.append(outcome.line()))
    assert ran == [DAY + timedelta(days=n) for n in (1, 2, 3)]  # the complete date skipped, the rest once
    assert [o.outcome for o in result.outcomes] == ["skipped", "succeeded", "failed", "succeeded"]
    assert result.failed == [DAY + timedelta(days=2)] and not result.ok
    assert "stopped at the raw quality gate: bad [x] batch" in reported[2]
    assert reported[0].startswith("2026-11-01  skipped")
    assert "2026-11-03" in str(BackfillFailed(result))
