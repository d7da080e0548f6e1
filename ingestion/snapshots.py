"""Snapshot entities (`load: snapshot`): a night's full snapshot lands as its changes against the last one.

The night's typed, good records are compared in DuckDB with the entity's current state in raw — the latest
change per primary key, read with delta_scan — and only the differences land, in one raw commit (the
batch's application transaction, as for an append batch), each row with `_change`:

- `insert`: a key that is not current (never seen, or deleted before);
- `update`: a current key with any other value changed (declared columns and undeclared ones that arrived);
- `delete`: a current key missing from the snapshot — a tombstone repeating its last known values.

So raw grows with the changes, not with the snapshot's size; the latest row per key is the current state
(deleted when its `_change` is 'delete') and the rows in order are the history (dbt: int_<entity>_current,
int_<entity>_history). A night without changes commits no rows but still records its batch.

Deletions are inferred only from a snapshot known to be complete: when a file of the night could not be read,
was empty, or a quarantined record has no readable key, no deletion is inferred at all; a quarantined
record whose key was read keeps that key as it was. A missing or empty delivery lands nothing.

Order: a snapshot is diffed against the one before it, so dates must land in order. Each commit records
(as application transactions, no other state) the snapshot date raw now reflects, `snapshot/current`
(version = YYYYMMDD), and the one it replaced, `snapshot/before/<batch id>`. A date older than the current
one is refused (`later_snapshot`); a retraction is allowed for the current date only and sets it back
(ingestion/batches.py). To backfill, retract the later dates newest first and land the dates in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from ingestion.casting import ident, literal
from ingestion.types import CHANGE_FIELD, LINEAGE_FIELDS
from lakehouse.lake import append_batch, open_table
from lakehouse.settings import Settings

if TYPE_CHECKING:
    from ingestion.loader import Batch

CURRENT_APP_ID = "snapshot/current"
CHANGES = ("insert", "update", "delete")
BATCH_ROWS = 1_000_000


class SnapshotOrderError(ValueError):
    """A snapshot batch would land or be retracted out of date order; the message says what to do."""


def before_app_id(batch_id: str) -> str:
    """The app id recording which snapshot date raw reflected before `batch_id` landed."""
    return f"snapshot/before/{batch_id}"


def date_version(day: date | None) -> int:
    """A date as an application-transaction version (YYYYMMDD; 0 for none)."""
    return 0 if day is None else int(day.strftime("%Y%m%d"))


def version_date(version: int | None) -> date | None:
    if not version:
        return None
    return date(version // 10_000, version // 100 % 100, version % 100)


def current_snapshot(con: duckdb.DuckDBPyConnection, uri: str, settings: Settings) -> date | None:
    """The snapshot date the raw table at `uri` reflects (None: nothing landed). A table landed before
    snapshots were recorded (full snapshots appended) reflects its newest batch."""
    table = open_table(uri, settings)
    if table is None:
        return None
    version = table.transaction_version(CURRENT_APP_ID)
    if version is not None:
        return version_date(version)
    found = con.execute(f"SELECT max(_ingested_at) FROM delta_scan({literal(uri)})").fetchone()
    return None if not found or found[0] is None else found[0].date() - timedelta(days=1)


def later_snapshot(
    con: duckdb.DuckDBPyConnection, uri: str, run_date: date, settings: Settings
) -> date | None:
    """The later snapshot date raw already reflects, when landing `run_date` now would be a backfill."""
    current = current_snapshot(con, uri, settings)
    return current if current is not None and current > run_date else None


def backfill_advice(entity: str, source: str, run_date: date, current: date) -> str:
    return (
        f"{entity}: the snapshot of {run_date} is older than the one raw already reflects ({current}); "
        f"landing it now would corrupt the history (the changes of the later dates were computed without "
        f"it), so nothing landed. To backfill {run_date}: retract the later {entity} batches newest first "
        f"(`lakehouse batch retract --source {source} --entity {entity} --date {current}`, …), then run "
        f"{run_date} and the later dates again in order."
    )


@dataclass
class SnapshotChanges:
    """What a snapshot night landed."""

    records: int = 0  # good records in the snapshot
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANGES, 0))
    deletions_withheld: str | None = None  # why some or all deletions were not inferred

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        counts = ", ".join(f"{n} {c}s" for c, n in self.counts.items())
        return f"snapshot of {self.records} records landed as {counts}"


def _keys_match(keys: list[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{ident(k)} = {right}.{ident(k)}" for k in keys)


def _state_sql(uri: str, raw_columns: list[str], batch: Batch) -> str:
    """The latest change per key before this batch's date (legacy rows without `_change`: inserts)."""
    keys = ", ".join(ident(k) for k in batch.entity.primary_key)
    change = "coalesce(_change, 'insert')" if CHANGE_FIELD.name in raw_columns else "'insert'"
    return (
        f"SELECT * EXCLUDE (_change), {change} AS _change FROM ("
        f"SELECT *{'' if CHANGE_FIELD.name in raw_columns else ', NULL AS _change'} "
        f"FROM delta_scan({literal(uri)}) WHERE _ingested_at < {batch.ingested_at_sql}) "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _ingested_at DESC, _batch_id DESC) = 1"
    )


def _empty_state_sql(batch: Batch) -> str:
    cols = ", ".join(
        f"CAST(NULL AS {c.column_type.duckdb}) AS {ident(n)}" for n, c in batch.entity.columns.items()
    )
    return f"SELECT {cols}, CAST(NULL AS VARCHAR) AS _change WHERE false"


def unkeyed_rejects(con: duckdb.DuckDBPyConnection, keys: list[str], quarantined: int) -> int:
    """Quarantined records whose key is unknown: parse rejects and records with an unreadable key."""
    keyed = " AND ".join(f"{ident(k)} IS NOT NULL" for k in keys)
    found = con.execute(f"SELECT count(*) FROM checked WHERE _reason IS NOT NULL AND {keyed}").fetchone()
    return quarantined - (int(found[0]) if found else 0)


def deletion_rule(incomplete: str | None, unkeyed: int, keyed: int) -> tuple[str, str | None]:
    """The SQL condition deletions need, and why deletions were withheld (None: all inferred)."""
    if incomplete or unkeyed:
        why = incomplete or f"{unkeyed} quarantined records have no readable key"
        return "false", f"no deletions inferred: {why}; keys missing from this snapshot stay as they were"
    if keyed:
        return (
            "true",
            f"the {keyed} keys of quarantined records were not deleted (they keep their last state)",
        )
    return "true", None


def _changes_sql(batch: Batch, state: str, raw_columns: list[str], extras: list[str], deletes: str) -> str:
    """Inserts, updates (night rows) and deletes (state rows) of the night, as the temp table's query."""
    entity, keys = batch.entity, batch.entity.primary_key
    night_cols = [*entity.columns, *extras]
    compared = [c for c in night_cols if c not in keys]
    changed = " OR ".join(
        f"n.{ident(c)} IS DISTINCT FROM {'a.' + ident(c) if c in raw_columns else 'NULL'}" for c in compared
    )
    carried = [f"a.{ident(c)}" if c in raw_columns else f"NULL AS {ident(c)}" for c in night_cols]
    files = "(SELECT string_agg(DISTINCT _file, ', ') FROM checked)"
    return (
        f"WITH alive AS (SELECT *, true AS _seen FROM ({state}) WHERE _change <> 'delete'), "
        f"night AS (SELECT {', '.join(ident(c) for c in night_cols)}, _file, _line FROM checked "
        f"WHERE _reason IS NULL) "
        f"SELECT n.*, CASE WHEN a._seen IS NULL THEN 'insert' ELSE 'update' END AS _change "
        f"FROM night n LEFT JOIN alive a ON {_keys_match(keys, 'n', 'a')} "
        f"WHERE a._seen IS NULL OR {changed or 'false'} "
        f"UNION ALL BY NAME "
        f"SELECT {', '.join(carried)}, {files} AS _file, NULL AS _line, 'delete' AS _change FROM alive a "
        f"WHERE {deletes} AND NOT EXISTS (SELECT 1 FROM checked n WHERE {_keys_match(keys, 'n', 'a')})"
    )


def _changes_reader(
    con: duckdb.DuckDBPyConnection, batch: Batch, extras: list[str], extra_fields: list[pa.Field]
) -> pa.RecordBatchReader:
    cols = ", ".join(ident(c) for c in [*batch.entity.columns, *extras])
    keys = ", ".join(ident(k) for k in batch.entity.primary_key)
    sql = (
        f"SELECT {cols}, {literal(batch.batch_id)} AS _batch_id, {batch.ingested_at_sql} AS _ingested_at, "
        f"_file AS _source_file, _change FROM snapshot_changes "
        f"ORDER BY _change = 'delete', _file, _line, {keys}"
    )
    reader = con.execute(sql).to_arrow_reader(BATCH_ROWS)
    schema = pa.schema([*batch.entity.arrow_schema, *LINEAGE_FIELDS, CHANGE_FIELD])
    return reader.cast(pa.schema([*schema, *extra_fields]))


def count_changes(con: duckdb.DuckDBPyConnection, withheld: str | None) -> SnapshotChanges:
    """The night's good records and its changes per kind (the temp tables `checked`, `snapshot_changes`)."""
    result = SnapshotChanges(deletions_withheld=withheld)
    found = con.execute("SELECT count(*) FROM checked WHERE _reason IS NULL").fetchone()
    result.records = int(found[0]) if found else 0
    for change, n in con.execute("SELECT _change, count(*) FROM snapshot_changes GROUP BY 1").fetchall():
        result.counts[str(change)] = int(n)
    return result


def _extra_fields(con: duckdb.DuckDBPyConnection, extras: list[str]) -> list[pa.Field]:
    """Undeclared columns keep the type they landed with."""
    probe = con.execute(f"SELECT {', '.join(ident(c) for c in extras) or '1'} FROM checked LIMIT 0")
    return [f for f in probe.to_arrow_table().schema if f.name in extras]


def land_snapshot(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    raw_uri: str,
    extras: list[str],
    quarantined: int,
    incomplete: str | None,
    settings: Settings,
) -> SnapshotChanges | None:
    """Land the changes of the night's snapshot (the temp table `checked`) once; None when the batch was
    committed meanwhile. `quarantined`: the night's quarantined records; `incomplete`: why the delivery is
    known to be incomplete (a file that did not land), so no deletion may be inferred."""
    table = open_table(raw_uri, settings)
    raw_columns = [] if table is None else [f.name for f in table.schema().fields]
    state = _empty_state_sql(batch) if table is None else _state_sql(raw_uri, raw_columns, batch)
    unkeyed = unkeyed_rejects(con, batch.entity.primary_key, quarantined)
    deletes, withheld = deletion_rule(incomplete, unkeyed, quarantined - unkeyed)
    changes = _changes_sql(batch, state, raw_columns, extras, deletes)
    con.execute(f"CREATE OR REPLACE TEMP TABLE snapshot_changes AS {changes}")
    try:
        result = count_changes(con, withheld)
        before = current_snapshot(con, raw_uri, settings)
        record = [
            (CURRENT_APP_ID, date_version(batch.run_date)),
            (before_app_id(batch.batch_id), date_version(before)),
        ]
        reader = _changes_reader(con, batch, extras, _extra_fields(con, extras))
        if not append_batch(raw_uri, reader, batch.app_id, settings, also_record=record):
            return None
        return result
    finally:
        con.execute("DROP TABLE IF EXISTS snapshot_changes")
