"""Volume anomalies: the rows a table gained on the run date against a weekday-adjusted, robust baseline of
its trailing days (from the quality ledger's nightly row counts).

The method (like Elementary's volume anomalies, made robust): over the `training_days` before the run date,
each weekday's median over the window's median is its seasonal factor (a shop sells more at the weekend);
dividing each day by its factor leaves a series whose median is the baseline and whose MAD (x 1.4826) is the
spread. The run date is an anomaly when it is more than `sensitivity` spreads from its weekday's expected
value AND differs from it by more than `min_change` (relative): small tables and small wobbles never alert.
A table needs `min_history` days of history before it is judged.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from quality.monitoring.findings import MonitorCheck, MonitorOutcome
from quality.monitoring.policy import TablePolicy, VolumePolicy

MAD_TO_SD = 1.4826
MIN_RELATIVE_SPREAD = 0.02  # a perfectly regular history still allows 2 % of noise per spread
HINT = (
    "compare the night's delivery with the usual one (landing/<source>/<date>/, the run summary's 'Landed'); "
    "a partial delivery can be retracted and delivered again (lakehouse batch retract)"
)


@dataclass(frozen=True)
class Baseline:
    expected: float
    spread: float  # relative: robust standard deviation / expected
    days: int


def daily_additions(totals: Mapping[date, float]) -> dict[date, float]:
    """Rows gained each day: its total minus the day before's (a day without the day before is left out)."""
    return {
        d: v - totals[d - timedelta(days=1)] for d, v in totals.items() if d - timedelta(days=1) in totals
    }


def seasonal_baseline(day: date, history: Mapping[date, float]) -> Baseline | None:
    """The expected value of `day` from `history` (other days), weekday-adjusted; None without history."""
    values = [v for v in history.values() if v >= 0]
    if not values:
        return None
    overall = statistics.median(values)
    by_weekday: dict[int, list[float]] = defaultdict(list)
    for d, v in history.items():
        if v >= 0:
            by_weekday[d.weekday()].append(v)

    def factor(weekday: int) -> float:
        same = by_weekday.get(weekday, [])
        return statistics.median(same) / overall if len(same) >= 2 and overall > 0 else 1.0

    adjusted = [v / factor(d.weekday()) for d, v in history.items() if v >= 0 and factor(d.weekday()) > 0]
    centre = statistics.median(adjusted)
    mad = statistics.median([abs(a - centre) for a in adjusted]) * MAD_TO_SD
    spread = max(mad / centre, MIN_RELATIVE_SPREAD) if centre > 0 else 1.0
    return Baseline(centre * factor(day.weekday()), spread, len(values))


def judge(
    value: float, day: date, history: Mapping[date, float], policy: VolumePolicy
) -> tuple[MonitorOutcome, str, str | None]:
    """(outcome, detail, threshold) of one day's value against its history under `policy`."""
    if len(history) < policy.min_history:
        return "skipped", f"not judged: {len(history)} of {policy.min_history} days of history", None
    baseline = seasonal_baseline(day, history)
    if baseline is None or baseline.expected < policy.min_rows:
        expected = f"{baseline.expected:.0f}" if baseline else "no"
        return "skipped", f"not judged: a usual {day:%A} adds {expected} rows (< {policy.min_rows})", None
    change = value / baseline.expected - 1
    score = change / baseline.spread
    band = max(policy.sensitivity * baseline.spread, policy.min_change)
    low, high = baseline.expected * (1 - band), baseline.expected * (1 + band)
    threshold = f"{max(low, 0):.0f}..{high:.0f} rows"
    anomalous = abs(score) > policy.sensitivity and abs(change) > policy.min_change
    what = "fewer" if change < 0 else "more"
    detail = (
        f"{value:.0f} rows added on {day} ({day:%A}), {abs(change):.0%} {what} than the usual "
        f"{baseline.expected:.0f}"
        f" (robust z {score:+.1f}, {baseline.days} days of history; expected {threshold})"
    )
    return ("warned" if anomalous else "passed"), detail, threshold


def volume_check(policy: TablePolicy, day: date, totals: Mapping[date, float]) -> MonitorCheck | None:
    """The volume check of one table on `day` from its nightly row counts (None: the check is off)."""
    if not policy.volume.check:
        return None
    additions = daily_additions(totals)
    first = day - timedelta(days=policy.volume.training_days)
    history = {d: v for d, v in additions.items() if first <= d < day}
    base: dict[str, Any] = {
        "kind": "volume_anomaly",
        "check_type": "volume_anomaly",
        "dataset": policy.dataset,
        "name": "rows added against the trailing weekday-adjusted median",
        "configured_in": policy.configured_in,
        "hint": HINT,
    }
    if day not in additions:
        detail = f"not judged: no row count of {day} and the day before in the ledger"
        return MonitorCheck(**base, outcome="skipped", detail=detail)
    outcome, detail, threshold = judge(additions[day], day, history, policy.volume)
    return MonitorCheck(**base, outcome=outcome, value=additions[day], threshold=threshold, detail=detail)


def ledger_totals(ledger: pa.Table | None, first: date, last: date) -> dict[str, dict[date, float]]:
    """Each table's row count per run date in [first, last], from the ledger's volume rows."""
    if ledger is None:
        return {}
    with duckdb.connect() as con:
        con.register("ledger", ledger)
        rows = con.execute(
            "SELECT dataset, run_date, value FROM ledger WHERE layer = 'volume' AND outcome = 'recorded' "
            "AND value IS NOT NULL AND run_date BETWEEN ? AND ?",
            [first, last],
        ).fetchall()
    totals: dict[str, dict[date, float]] = defaultdict(dict)
    for dataset, run_date, value in rows:
        totals[dataset][run_date] = float(value)
    return dict(totals)


def volume_checks(policies: list[TablePolicy], day: date, ledger: pa.Table | None) -> list[MonitorCheck]:
    longest = max((p.volume.training_days for p in policies), default=0)
    totals = ledger_totals(ledger, day - timedelta(days=longest + 1), day)
    checks = [volume_check(p, day, totals.get(p.dataset, {})) for p in policies]
    return [c for c in checks if c is not None]
