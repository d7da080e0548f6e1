"""Performance from Prefect's own records: nightly flow runs and their stage flow runs, read from a real
Prefect server's API, judged against the earlier completed nights."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from prefect import flow

from lakehouse.settings import Settings
from orchestration.flow_timings import nightly_flow_timings
from quality.monitoring.performance import flow_run_checks

D = date(2001, 1, 10)  # far from the dates other tests' nightly runs on the shared server use


@flow(name="dbt-transform")
def _stage(seconds: float) -> None:
    time.sleep(seconds)


@flow(name="lakehouse-nightly")
def _night(run_date: date, seconds: float) -> None:
    _stage(seconds)


@flow(name="lakehouse-nightly")
def _failed_night(run_date: date) -> None:
    raise RuntimeError("a failed night is not a baseline")


@pytest.mark.integration
def test_a_slow_stage_flow_run_is_found_from_the_prefect_api(
    prefect_api: str, lake_settings: Settings
) -> None:
    for i in range(4):
        _night(D - timedelta(days=4 - i), 0.05)
    _failed_night(D - timedelta(days=1), return_state=True)
    _night(D, 6.0)  # an artificially slow dbt stage

    timings = nightly_flow_timings(D)

    assert [t.run_date for t in timings][-1] == D and len(timings) == 6
    assert sum(not t.ok for t in timings) == 1
    assert all("flow dbt-transform" in t.seconds for t in timings if t.ok)
    settings = Settings(lakehouse_perf_min_seconds=2)  # flow runs of seconds, not minutes
    checks = {c.dataset: c for c in flow_run_checks(D, timings, settings)}
    slow = checks["prefect.dbt-transform"]
    assert slow.outcome == "warned" and slow.kind == "performance_degradation"
    assert "last 4 runs" in slow.message()  # the failed night is not part of the median
    assert checks["prefect.lakehouse-nightly"].outcome == "warned"  # the whole flow run

    ordinary = timings[3]  # the 4th ordinary night, against the 3 before it
    checks = {c.dataset: c for c in flow_run_checks(ordinary.run_date, timings, settings, ordinary.run_id)}
    assert checks["prefect.dbt-transform"].outcome == "passed"
