"""The volume method on the demo generator's real per-day volumes: its designed weekly pattern and Poisson
noise raise nothing over ordinary days; a day with 10 % of the usual orders is an anomaly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ingestion.shop.generator import generate_day
from quality.monitoring.policy import VolumePolicy
from quality.monitoring.volume import daily_additions, judge, seasonal_baseline

POLICY = VolumePolicy(
    check=True, sensitivity=3.5, training_days=28, min_history=14, min_change=0.3, min_rows=100
)
START = date(2026, 8, 3)  # a Monday
ENTITIES = ("orders", "order_items", "payments")


@pytest.fixture(scope="module", params=[0.1, 1.0], ids=["scale0.1", "scale1"])
def daily(request) -> dict[str, dict[date, float]]:
    """Rows per entity per day the generator delivers, for 60 days."""
    days = [START + timedelta(days=i) for i in range(60)]
    per_day = {d: generate_day(d, request.param) for d in days}
    return {e: {d: float(per_day[d][e].num_rows) for d in days} for e in ENTITIES}


def _history(series: dict[date, float], day: date) -> dict[date, float]:
    return {d: v for d, v in series.items() if day - timedelta(days=POLICY.training_days) <= d < day}


def test_the_weekly_pattern_is_real_and_raises_nothing_over_ordinary_days(daily) -> None:
    lines = daily["order_items"]  # the lines of the day's new orders
    weekend = [v for d, v in lines.items() if d.weekday() >= 5]
    midweek = [v for d, v in lines.items() if d.weekday() in (1, 2)]
    assert sum(weekend) / len(weekend) > 1.15 * sum(midweek) / len(midweek)  # the design: Sat/Sun busier

    judged = 0
    for entity, series in daily.items():
        for day in sorted(series)[POLICY.min_history :]:
            outcome, detail, _ = judge(series[day], day, _history(series, day), POLICY)
            assert outcome == "passed", f"{entity}: {detail}"
            judged += 1
    assert judged == 3 * (60 - POLICY.min_history)


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_day_with_a_tenth_of_the_usual_rows_is_an_anomaly(daily, entity) -> None:
    series = daily[entity]
    for day in sorted(series)[-7:]:  # whatever the weekday
        outcome, detail, threshold = judge(0.1 * series[day], day, _history(series, day), POLICY)
        assert outcome == "warned", detail
        assert "% fewer than the usual" in detail and threshold and day.strftime("%A") in detail


def test_a_doubled_delivery_is_an_anomaly_too(daily) -> None:
    series = daily["orders"]
    day = max(series)
    assert judge(2 * series[day], day, _history(series, day), POLICY)[0] == "warned"


def test_too_little_history_or_too_few_rows_is_not_judged() -> None:
    history = {START + timedelta(days=i): 1000.0 for i in range(5)}
    outcome, detail, _ = judge(10.0, START + timedelta(days=5), history, POLICY)
    assert (outcome, detail) == ("skipped", "not judged: 5 of 14 days of history")
    small = {START + timedelta(days=i): 20.0 for i in range(20)}
    outcome, detail, _ = judge(0.0, START + timedelta(days=20), small, POLICY)
    assert outcome == "skipped" and "(< 100)" in detail


def test_the_baseline_follows_the_weekday() -> None:
    history = {
        START + timedelta(days=i): (150.0 if (START + timedelta(days=i)).weekday() == 5 else 100.0)
        for i in range(28)
    }
    saturday = START + timedelta(days=33)
    assert saturday.weekday() == 5
    baseline = seasonal_baseline(saturday, history)
    assert baseline is not None and baseline.expected == pytest.approx(150.0)
    assert judge(150.0, saturday, history, POLICY)[0] == "passed"
    assert judge(100.0, saturday + timedelta(days=2), history, POLICY)[0] == "passed"


def test_daily_additions_need_the_day_before() -> None:
    totals = {date(2026, 1, 1): 10.0, date(2026, 1, 2): 25.0, date(2026, 1, 4): 40.0}
    assert daily_additions(totals) == {date(2026, 1, 2): 15.0}
