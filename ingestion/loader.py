"""Ingestion: a date's landing files of one registered source -> typed raw Delta tables, exactly once.

For each entity of the source, every landing file of the date (ingestion/locations.py) is read record by
record (ingestion/readers.py), typed to the entity's declared columns (ingestion/casting.py) and appended to
`raw/<source>/<entity>` with lineage columns, in one commit carrying the application transaction of the
batch's delivery (the batch id `<source>/<entity>/<date>`; after a retraction `<batch id>/redelivery-<n>`,
see ingestion/batches.py): rerunning a date appends nothing.

- A record that does not parse or fit goes to `quarantine/<source>/records` with its line and the reason;
  the file's other records land.
- A file that cannot be read at all, or lacks a required column, is copied to
  `quarantine/<source>/files/<date>/`; the entity's other files land.
- An empty or header-only file, or no file at all, is a problem: nothing is committed for that entity, so
  the batch stays open and a corrected redelivery of the date lands.
- Columns the source does not declare are added to the raw table (Delta schema merge) and reported as
  drift; a missing optional column lands as NULL.

_ingested_at (and quarantined_at) is deterministic: midnight UTC at the end of the run date, the moment the
day's batch is complete. Rerunning produces identical tables; the wall-clock time is in the Delta log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pyarrow as pa

from ingestion import batches, casting, snapshots
from ingestion.locations import landing_files
from ingestion.readers import (
    LOCATION_WORDS,
    FileRead,
    UnreadableFileError,
    drop_landed_text,
    drop_temp_objects,
    read_file,
)
from ingestion.registry import Entity, Source
from ingestion.report import MAX_RECORD_MESSAGES, EntityReport, IngestReport
from ingestion.types import LINEAGE_FIELDS, UTC_TS
from lakehouse.commits import committed_since
from lakehouse.files import copy_file
from lakehouse.lake import append_batch, batch_already_committed, duckdb_session
from lakehouse.layout import quarantine_file, quarantine_records, raw_table
from lakehouse.settings import Settings, get_settings

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("record_number", pa.int64()),  # the line (CSV, JSON lines), record or row; NULL for a file
        pa.field("location", pa.string()),  # e.g. "line 17"; NULL for a whole file
        pa.field("reason", pa.string(), nullable=False),
        pa.field(
            "record", pa.string()
        ),  # the record as landed (JSON object or the raw line); NULL for a file
        pa.field("quarantined_at", UTC_TS, nullable=False),
    ]
)
BATCH_ROWS = 1_000_000
RECORD_CHARS = 65_536


@dataclass(frozen=True)
class Batch:
    source: Source
    entity: Entity
    run_date: date
    retractions: int = 0  # of this batch so far: which delivery lands (ingestion/batches.py)

    @property
    def batch_id(self) -> str:
        return batches.batch_id(self.source.name, self.entity.name, self.run_date)

    @property
    def app_id(self) -> str:
        """The application transaction of this delivery's raw commit."""
        return batches.app_id(self.batch_id, self.retractions)

    @property
    def ingested_at(self) -> datetime:
        return datetime.combine(self.run_date + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def ingested_at_sql(self) -> str:
        return f"TIMESTAMPTZ '{self.ingested_at.isoformat()}'"


def raw_schema(entity: Entity) -> pa.Schema:
    """The schema of the raw Delta table of `entity` (before any undeclared columns were added)."""
    return entity.raw_schema


@dataclass
class LandedFile:
    uri: str
    read: FileRead


def _quarantine_rows(batch: Batch, rows: dict[str, list[object]]) -> pa.Table:
    n = len(rows["reason"])
    full = {
        "batch_id": [batch.batch_id] * n,
        "entity": [batch.entity.name] * n,
        "quarantined_at": [batch.ingested_at] * n,
        **rows,
    }
    return pa.table({f.name: full[f.name] for f in QUARANTINE_SCHEMA}, schema=QUARANTINE_SCHEMA)


def quarantine_whole_file(batch: Batch, uri: str, error: str, settings: Settings) -> str:
    """Copy a file that cannot land aside and record why (once per batch and file); returns the copy."""
    name = uri.rsplit("/", 1)[-1]
    dst = quarantine_file(batch.source.name, batch.run_date, name, settings)
    copy_file(uri, dst, settings)
    rows: dict[str, list[object]] = {
        "source_file": [uri],
        "record_number": [None],
        "location": [None],
        "reason": [f"file could not be landed: {error}; copied to {dst}"],
        "record": [None],
    }
    app = f"quarantine/{batch.app_id}#file:{name}"
    append_batch(
        quarantine_records(batch.source.name, settings), _quarantine_rows(batch, rows), app, settings
    )
    return dst


def missing_required(entity: Entity, read: FileRead) -> list[str]:
    return [n for n in entity.required if n not in read.columns]


def _landed_view(con: duckdb.DuckDBPyConnection, files: list[LandedFile], entity: Entity) -> None:
    """One view `landed` over every landed file: _file, _line, the declared columns (NULL when a file lacks
    an optional one) and any undeclared columns."""
    parts = []
    for f in files:
        absent = [n for n in entity.columns if n not in f.read.columns]
        nulls = "".join(f", CAST(NULL AS VARCHAR) AS {casting.ident(n)}" for n in absent)
        parts.append(f"SELECT {casting.literal(f.uri)} AS _file, *{nulls} FROM {f.read.table}")
    con.execute("CREATE OR REPLACE TEMP VIEW landed AS " + " UNION ALL BY NAME ".join(parts))


def landed_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Column -> DuckDB type of the `landed` view."""
    return {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE landed").fetchall()}


def undeclared_columns(types: dict[str, str], entity: Entity) -> dict[str, str]:
    """Columns in the landed files that the source does not declare (-> DuckDB type)."""
    return {n: t for n, t in types.items() if n not in entity.columns and n not in ("_file", "_line")}


def check_landed(
    con: duckdb.DuckDBPyConnection, batch: Batch, checks: list[casting.ColumnCheck], extra_names: list[str]
) -> None:
    """Type and check every landed record once, into the temp table `checked` (typed values, _reason)."""
    extras = "".join(f", {casting.ident(n)}" for n in extra_names)
    raw = {c.name: casting.ident("_raw_" + c.name) for c in checks}
    originals = ", ".join(f"{casting.ident(name)} AS {alias}" for name, alias in raw.items())
    typed = ", ".join(casting.ident(c.name) for c in checks)
    record = casting.original_record({**raw, **{n: casting.ident(n) for n in extra_names}}, RECORD_CHARS)
    inner = (
        f"SELECT _file, _line, {originals}, {casting.typed_columns(checks)}, "
        f"{casting.reason(checks, batch.source.limits)} AS _reason{extras} FROM landed"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE checked AS SELECT _file, _line, {typed}, _reason{extras}, "
        f"CASE WHEN _reason IS NOT NULL THEN {record} END AS _record FROM ({inner})"
    )


def check_files(
    con: duckdb.DuckDBPyConnection, batch: Batch, landed: list[LandedFile]
) -> tuple[list[casting.ColumnCheck], dict[str, str]]:
    """The `landed` view over the read files and the `checked` table; the checks and undeclared columns."""
    _landed_view(con, landed, batch.entity)
    types = landed_types(con)
    checks, extras = casting.column_checks(batch.entity, types), undeclared_columns(types, batch.entity)
    check_landed(con, batch, checks, list(extras))
    return checks, extras


def quarantined_without_lines(con: duckdb.DuckDBPyConnection, landed: list[LandedFile]) -> set[str]:
    """The files read without exact line numbers that have a record to quarantine."""
    inexact = [f.uri for f in landed if not f.read.exact_lines]
    if not inexact:
        return set()
    rows = con.execute(
        "SELECT DISTINCT _file FROM checked WHERE _reason IS NOT NULL AND list_contains(?, _file)", [inexact]
    ).fetchall()
    return {str(r[0]) for r in rows}


def good_records(
    con: duckdb.DuckDBPyConnection, batch: Batch, checks: list[casting.ColumnCheck], extras: dict[str, str]
) -> pa.RecordBatchReader:
    """The typed records that fit, in file order, with lineage columns (and undeclared ones), as a stream."""
    extra_sql = "".join(f", {casting.ident(n)}" for n in extras)
    typed = ", ".join(casting.ident(c.name) for c in checks)
    sql = (
        f"SELECT {typed}, {casting.literal(batch.batch_id)} AS _batch_id, "
        f"{batch.ingested_at_sql} AS _ingested_at, _file AS _source_file{extra_sql} "
        f"FROM checked WHERE _reason IS NULL ORDER BY _file, _line"
    )
    reader = con.execute(sql).to_arrow_reader(BATCH_ROWS)
    extra_fields = [reader.schema.field(n) for n in extras]  # undeclared columns keep their landed type
    return reader.cast(pa.schema([*batch.entity.arrow_schema, *LINEAGE_FIELDS, *extra_fields]))


def bad_records(
    con: duckdb.DuckDBPyConnection, batch: Batch, files: list[LandedFile], checks: list[casting.ColumnCheck]
) -> pa.Table:
    """Records that did not parse (per file) or do not fit the declared columns, as quarantine rows."""
    where = casting.literal(LOCATION_WORDS.get(batch.entity.format, "row") + " ")
    value_rejects = (
        "SELECT _file, _line, _reason AS reason, _record AS record FROM checked WHERE _reason IS NOT NULL"
    )
    parse_rejects = [
        f"SELECT {casting.literal(f.uri)} AS _file, _line, reason, record FROM {f.read.table}_rejects"
        for f in files
    ]
    sql = (
        f"SELECT _file AS source_file, _line AS record_number, "
        f"{where} || _line AS location, "
        f"reason, record FROM ({' UNION ALL '.join([value_rejects, *parse_rejects])}) ORDER BY _file, _line"
    )
    table = con.execute(sql).to_arrow_table()
    rows = {name: table.column(name).to_pylist() for name in table.column_names}
    return _quarantine_rows(batch, rows)


def explain(batch: Batch, bad: pa.Table) -> list[str]:
    """Messages for the first quarantined records, e.g. "orders.jsonl line 17 (order_id=4): status: …"."""
    messages = []
    for row in bad.slice(0, MAX_RECORD_MESSAGES).to_pylist():
        key = _key_text(batch.entity, row["record"])
        name = str(row["source_file"]).rsplit("/", 1)[-1]
        messages.append(f"{name} {row['location']}{key}: {row['reason']}")
    return messages


def _key_text(entity: Entity, record: str | None) -> str:
    try:
        values = json.loads(record or "")
    except ValueError:
        return ""
    if not isinstance(values, dict):
        return ""
    keys = [f"{k}={values[k]}" for k in entity.primary_key if values.get(k) is not None]
    return f" ({', '.join(keys)})" if keys else ""


def read_landing_files(
    con: duckdb.DuckDBPyConnection, batch: Batch, uris: list[str], report: EntityReport, settings: Settings
) -> list[LandedFile]:
    """Read each file; quarantine whole files that cannot land, note empty ones; return the rest."""
    landed: list[LandedFile] = []
    for i, uri in enumerate(uris):
        name = uri.rsplit("/", 1)[-1]
        try:
            read = read_file(con, uri, batch.entity, batch.source.limits, f"landed_{i}")
        except UnreadableFileError as exc:
            report.file_errors[name] = str(exc)
            report.quarantined_files.append(quarantine_whole_file(batch, uri, str(exc), settings))
            continue
        if read.header_only:
            # a pulled source's empty page or extract is nothing new; an empty snapshot is a problem
            if batch.source.kind == "files" or batch.entity.is_snapshot:
                report.empty_files.append(name)
            continue
        missing = missing_required(batch.entity, read)
        if missing:
            found = list(read.columns)
            more = " …" if len(found) > 30 else ""
            error = f"missing required columns {missing}; the file has {found[:30]}{more}"
            report.file_errors[name] = error
            report.quarantined_files.append(quarantine_whole_file(batch, uri, error, settings))
            continue
        for column in batch.entity.columns:
            if column not in read.columns and column not in report.missing_optional:
                report.missing_optional.append(column)
        landed.append(LandedFile(uri, read))
    return landed


def ingest_entity(
    con: duckdb.DuckDBPyConnection, batch: Batch, settings: Settings, landed_since: datetime | None = None
) -> EntityReport:
    """Land one entity's files of the day: quarantine first, then the raw append that completes the batch.
    A batch committed at or after `landed_since` (this run's start) is reported as landed by this run."""
    try:
        return _ingest_entity(con, batch, settings, landed_since)
    finally:
        con.execute("DROP VIEW IF EXISTS landed")
        con.execute("DROP TABLE IF EXISTS checked")
        drop_temp_objects(con, "landed_")


def committed_rows(con: duckdb.DuckDBPyConnection, uri: str, where: str, batch_id: str) -> int:
    """Rows of the Delta table at `uri` matching `where` (a condition on the batch id parameter `?`)."""
    row = con.execute(f"SELECT count(*) FROM delta_scan({casting.literal(uri)}) WHERE {where}", [batch_id])
    found = row.fetchone()
    return int(found[0]) if found else 0


def report_committed(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    report: EntityReport,
    landed_since: datetime | None,
    settings: Settings,
) -> EntityReport:
    """The report of a batch found committed: what it landed when this run committed it (an earlier attempt
    of a retried task, after `landed_since`), else "already loaded" by an earlier run."""
    if landed_since is None or not committed_since(report.raw_table, batch.app_id, landed_since, settings):
        report.skipped_already_loaded = True
        return report
    report.landed_by_earlier_attempt = True
    report.rows_landed = committed_rows(con, report.raw_table, "_batch_id = ?", batch.batch_id)
    quarantine = quarantine_records(batch.source.name, settings)
    if batch_already_committed(quarantine, f"quarantine/{batch.app_id}", settings):  # records, not files
        where = "batch_id = ? AND record_number IS NOT NULL"
        report.rows_quarantined = committed_rows(con, quarantine, where, batch.batch_id)
    return report


def _ingest_entity(
    con: duckdb.DuckDBPyConnection, batch: Batch, settings: Settings, landed_since: datetime | None = None
) -> EntityReport:
    raw_uri = raw_table(batch.source.name, batch.entity.name, settings)
    report = EntityReport(batch.entity.name, batch.batch_id, raw_uri)
    batch = replace(batch, retractions=batches.retractions(raw_uri, batch.batch_id, settings))
    if batch_already_committed(raw_uri, batch.app_id, settings):
        return report_committed(con, batch, report, landed_since, settings)
    if batch.entity.is_snapshot:
        report.load = "snapshot"
        later = snapshots.later_snapshot(con, raw_uri, batch.run_date, settings)
        if later is not None:
            source, entity = batch.source.name, batch.entity.name
            report.out_of_order = snapshots.backfill_advice(entity, source, batch.run_date, later)
            return report
    uris, report.expected_at = landing_files(con, batch.source, batch.entity, batch.run_date, settings)
    report.files = [u.rsplit("/", 1)[-1] for u in uris]
    if not uris:
        report.file_missing = True
        return report
    landed = read_landing_files(con, batch, uris, report, settings)
    if not landed:
        empty_window = batch.source.kind != "files" and not batch.entity.is_snapshot
        if empty_window and not report.file_errors:  # an empty window: close the batch
            empty = batch.entity.raw_schema.empty_table()
            report.skipped_already_loaded = not append_batch(raw_uri, empty, batch.app_id, settings)
        return report
    checks, extras = check_files(con, batch, landed)
    inexact = quarantined_without_lines(con, landed)
    if inexact:  # read fast, with a record to quarantine: read those files again for its exact line
        for i, f in enumerate(landed):
            if f.uri in inexact:
                drop_landed_text(con, f.read)
                limits = batch.source.limits
                landed[i] = LandedFile(f.uri, read_file(con, f.uri, batch.entity, limits, f.read.table, True))
        checks, extras = check_files(con, batch, landed)
    con.execute("DROP VIEW landed")
    for f in landed:
        drop_landed_text(con, f.read)
    bad = bad_records(con, batch, landed, checks)
    if bad.num_rows:
        append_batch(
            quarantine_records(batch.source.name, settings), bad, f"quarantine/{batch.app_id}", settings
        )
    if batch.entity.is_snapshot:
        incomplete = report.file_error  # a file of the snapshot that did not land: deletions unknown
        changes = snapshots.land_snapshot(
            con, batch, raw_uri, list(extras), bad.num_rows, incomplete, settings
        )
        if changes is None:
            report.skipped_already_loaded = True
            return report
        report.snapshot = changes
        report.rows_landed = changes.rows
    elif append_batch(raw_uri, good_records(con, batch, checks, extras), batch.app_id, settings):
        total = sum(f.read.records + f.read.rejected for f in landed)
        report.rows_landed = total - bad.num_rows
    else:
        report.skipped_already_loaded = True  # a concurrent run committed it meanwhile
        return report
    report.rows_quarantined = bad.num_rows
    report.added_columns = {n: t for n, t in extras.items()}
    report.record_problems = explain(batch, bad)
    return report


def ingest_source(
    source: Source,
    run_date: date,
    settings: Settings | None = None,
    entities: list[str] | None = None,
    landed_since: datetime | None = None,
) -> IngestReport:
    """Land every entity (or the named ones) of `source` for `run_date`. Good data lands even when other
    files have problems; check `report.has_problems` / `report.problems()` afterwards.

    `landed_since`: when this run started (its flow, before any retry); a batch found committed since then
    was committed by this run (a retried task's earlier attempt) and its rows are reported as landed."""
    settings = settings or get_settings()
    report = IngestReport(source.name, run_date, quarantine_records(source.name, settings))
    with duckdb_session(settings=settings) as con:
        con.execute("SET TimeZone = 'UTC'")
        for entity in source.entities.values():
            if entities is None or entity.name in entities:
                batch = Batch(source, entity, run_date)
                report.entities[entity.name] = ingest_entity(con, batch, settings, landed_since)
    return report


def ingest_date(run_date: date, source: str = "shop", settings: Settings | None = None) -> IngestReport:
    """Land one registered source (by name) for `run_date`."""
    from ingestion.registry import get_source

    settings = settings or get_settings()
    return ingest_source(get_source(source, settings), run_date, settings)
