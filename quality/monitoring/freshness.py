"""Freshness: the age of each table's newest data commit (Delta log, no data read) against its SLA."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lakehouse.lake import open_table
from lakehouse.settings import Settings
from quality.monitoring.findings import MonitorCheck
from quality.monitoring.policy import TablePolicy

# Commits that change no data: they do not make a table fresh.
MAINTENANCE = {"OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES", "UPDATE TABLE METADATA"}
HISTORY_LIMIT = 100
HINT = {
    "raw": "check that the source delivered and the night's ingest ran (lakehouse run, the flow run's log)",
    "mart": "check the night's dbt build and publication (a withheld mart stays at its last good version: "
    "`lakehouse quality inspect`)",
}


def last_data_commit(uri: str, settings: Settings) -> datetime | None:
    """When the newest commit that changed data was made (None: no table, or only maintenance commits
    among the last HISTORY_LIMIT)."""
    table = open_table(uri, settings)
    if table is None:
        return None
    for entry in table.history(limit=HISTORY_LIMIT):  # newest first
        if entry.get("operation") not in MAINTENANCE and entry.get("timestamp") is not None:
            return datetime.fromtimestamp(int(entry["timestamp"]) / 1000, UTC)
    return None


def judge_freshness(policy: TablePolicy, last: datetime | None, now: datetime) -> MonitorCheck:
    sla = policy.freshness_sla_hours
    base: dict[str, Any] = {
        "kind": "freshness_breach",
        "check_type": "freshness",
        "dataset": policy.dataset,
        "name": f"newest data within {sla:g} h",
        "configured_in": policy.configured_in,
        "threshold": f"<= {sla:g} h",
        "hint": HINT[policy.kind],
    }
    if last is None:
        detail = f"no data at {policy.uri} (never written, or not a Delta table)"
        return MonitorCheck(**base, outcome="warned", detail=detail)
    hours = round((now - last).total_seconds() / 3600, 2)
    stale = hours > sla
    detail = f"newest data committed {last:%Y-%m-%d %H:%M} UTC, {hours:g} h ago: " + (
        f"older than its freshness SLA of {sla:g} h" if stale else f"within {sla:g} h"
    )
    return MonitorCheck(**base, outcome="warned" if stale else "passed", value=hours, detail=detail)


def freshness_checks(
    policies: list[TablePolicy], settings: Settings, now: datetime | None = None
) -> list[MonitorCheck]:
    now = now or datetime.now(UTC)
    return [judge_freshness(p, last_data_commit(p.uri, settings), now) for p in policies]
