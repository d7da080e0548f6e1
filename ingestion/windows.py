"""Incremental windows of pulled sources (HTTP APIs, database tables), kept in the lake.

A pull for (source, entity, run date) covers the half-open window [start, end): `start` is the end of the
latest window recorded for an earlier date (or the source's initial value), `end` is the end of the run date,
or the moment of the pull when that is earlier (rows changed later belong to the next window). The window is
recorded once per (entity, date) in the Delta table ops/windows/<source>; a rerun of the date reuses the
recorded window, so it asks for exactly the same rows and the loader lands them once.

Bounds are text: ISO 8601 UTC timestamps for time watermarks, decimal integers for id watermarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa

from lakehouse.lake import append_batch, open_table
from lakehouse.layout import ops_table
from lakehouse.settings import Settings, get_settings

WINDOW_SCHEMA = pa.schema(
    [
        pa.field("entity", pa.string(), nullable=False),
        pa.field("run_date", pa.date32(), nullable=False),
        pa.field("window_start", pa.string(), nullable=False),
        pa.field("window_end", pa.string(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("files", pa.list_(pa.string()), nullable=False),
    ]
)


@dataclass(frozen=True)
class Window:
    start: str
    end: str


@dataclass
class EntityFetch:
    """What one pull of one entity wrote to landing/."""

    entity: str
    window: Window
    files: list[str] = field(default_factory=list)
    records: int = 0
    reused_window: bool = False  # the window was recorded by an earlier pull of the same date


@dataclass
class FetchReport:
    source: str
    run_date: date
    entities: dict[str, EntityFetch] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"fetch {self.source} {self.run_date}:"]
        for e in self.entities.values():
            again = " (recorded window reused)" if e.reused_window else ""
            lines.append(
                f"  {e.entity}: {e.records} records in {len(e.files)} files, "
                f"window [{e.window.start}, {e.window.end}){again}"
            )
        return "\n".join(lines)


def windows_uri(source: str, settings: Settings | None = None) -> str:
    return ops_table("windows", source, settings=settings)


def end_of_day(run_date: date) -> datetime:
    return datetime.combine(run_date + timedelta(days=1), time(), tzinfo=UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def time_window_end(run_date: date, now: datetime | None = None) -> str:
    """The end of a time window for `run_date`: the end of that day, or now if that is earlier."""
    return iso_utc(min(end_of_day(run_date), now or datetime.now(UTC)))


def recorded_windows(source: str, entity: str, settings: Settings) -> list[tuple[date, Window]]:
    """Every recorded window of `entity`, by run date."""
    table = open_table(windows_uri(source, settings), settings)
    if table is None:
        return []
    rows = table.to_pyarrow_table(filters=[("entity", "=", entity)]).sort_by("run_date").to_pylist()
    return [(r["run_date"], Window(r["window_start"], r["window_end"])) for r in rows]


def planned_window(
    source: str, entity: str, run_date: date, initial_start: str, end: str, settings: Settings | None = None
) -> tuple[Window, bool]:
    """The window to pull for (entity, run_date) and whether it was already recorded.

    `end` is used only when nothing is recorded for the date yet.
    """
    settings = settings or get_settings()
    start = initial_start
    for day, window in recorded_windows(source, entity, settings):
        if day == run_date:
            return window, True
        if day < run_date:
            start = window.end
        elif _before(window.start, end):  # a later date already pulled from here on: do not overlap it
            end = window.start if _before(start, window.start) else start
            break
    return Window(start, end), False


def _before(a: str, b: str) -> bool:
    """a < b for window bounds: integers numerically, ISO timestamps as text (same format, UTC)."""
    if a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
        return int(a) < int(b)
    return a < b


def record_window(source: str, fetch: EntityFetch, run_date: date, settings: Settings | None = None) -> bool:
    """Record the window of a completed pull, exactly once per (entity, date); False if already recorded."""
    row = {
        "entity": [fetch.entity],
        "run_date": [run_date],
        "window_start": [fetch.window.start],
        "window_end": [fetch.window.end],
        "records": [fetch.records],
        "files": [fetch.files],
    }
    table = pa.table(row, schema=WINDOW_SCHEMA)
    app_id = f"window/{source}/{fetch.entity}/{run_date.isoformat()}"
    return append_batch(windows_uri(source, settings), table, app_id, settings)
