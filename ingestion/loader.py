"""Ingestion: landing files of one day -> typed raw Delta tables, exactly once, bad data quarantined.

For each entity the landing file is read with DuckDB as text, typed to the schema in ingestion/shop/schema.py,
and appended to `raw/<source>/<entity>` with lineage columns. Records that do not fit go to the Delta table
`quarantine/<source>/records` with the reason; a file that cannot be read at all is copied to
`quarantine/<source>/files/<date>/`. The raw append carries the application transaction `<source>/<entity>/
<date>` (the batch id): rerunning a date appends nothing.

_ingested_at (and quarantined_at) is deterministic: midnight UTC at the end of the run date (run_date + 1 day,
00:00), the moment the day's batch is complete. Rerunning produces identical tables; the wall-clock time of a
load is in the Delta log's commit info.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pyarrow as pa

from ingestion import casting
from ingestion.report import MAX_RECORD_MESSAGES, EntityReport, IngestReport
from ingestion.shop.schema import ENTITIES, LINEAGE_FIELDS, UTC_TS, Entity
from ingestion.storage import copy_file, file_exists
from lakehouse.lake import append_batch, batch_already_committed, duckdb_session
from lakehouse.settings import Settings, get_settings

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("record_number", pa.int64()),  # 1-based position in the file; NULL for a whole file
        pa.field("reason", pa.string(), nullable=False),
        pa.field("record", pa.string()),  # the record as landed (JSON object of strings); NULL for a file
        pa.field("quarantined_at", UTC_TS, nullable=False),
    ]
)
BATCH_ROWS = 1_000_000
UNREADABLE = (
    duckdb.InvalidInputException,
    duckdb.ConversionException,
    duckdb.IOException,
    duckdb.NotImplementedException,
)


class UnreadableFileError(Exception):
    """The landing file cannot be parsed as its format (or lacks columns of the schema)."""


@dataclass(frozen=True)
class Batch:
    source: str
    entity: Entity
    run_date: date
    source_file: str

    @property
    def batch_id(self) -> str:
        return f"{self.source}/{self.entity.name}/{self.run_date.isoformat()}"

    @property
    def ingested_at(self) -> datetime:
        return datetime.combine(self.run_date + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def ingested_at_sql(self) -> str:
        return f"TIMESTAMPTZ '{self.ingested_at.isoformat()}'"

    def location(self, record_number: int) -> str:
        """Where a record is in the file, in the file's own terms (CSV has a header line)."""
        fmt = self.entity.file_format
        return {"csv": f"line {record_number + 1}", "jsonl": f"line {record_number}"}.get(
            fmt, f"row {record_number}"
        )


def raw_schema(entity: Entity) -> pa.Schema:
    """The exact schema of the raw Delta table of `entity`."""
    return pa.schema([*entity.schema, *LINEAGE_FIELDS])


def reader_sql(entity: Entity, uri: str) -> str:
    """DuckDB table function reading the landing file; CSV and JSON lines as text."""
    path = casting.literal(uri)
    if entity.file_format == "csv":
        return (
            f"read_csv({path}, all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"')"
        )
    if entity.file_format == "jsonl":
        columns = ", ".join(f"{casting.literal(n)}: 'VARCHAR'" for n in entity.schema.names)
        return f"read_json({path}, format = 'newline_delimited', columns = {{{columns}}})"
    if entity.file_format == "parquet":
        return f"read_parquet({path}, file_row_number = true)"
    raise ValueError(f"unknown file format {entity.file_format!r} of entity {entity.name}")


def land_as_text(con: duckdb.DuckDBPyConnection, batch: Batch) -> int:
    """Read the landing file into the temp table `landed` (_record + every schema column as VARCHAR)."""
    entity = batch.entity
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW landing AS SELECT * FROM {reader_sql(entity, batch.source_file)}"
        )
        columns = [d[0] for d in con.execute("SELECT * FROM landing LIMIT 0").description]
        missing = [n for n in entity.schema.names if n not in columns]
        if missing:
            raise UnreadableFileError(f"missing columns {missing}; expected {entity.schema.names}")
        record = "file_row_number + 1" if entity.file_format == "parquet" else "row_number() OVER ()"
        text = ", ".join(
            f"CAST({casting.ident(n)} AS VARCHAR) AS {casting.ident(n)}" for n in entity.schema.names
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE landed AS SELECT {record} AS _record, {text} FROM landing")
    except duckdb.HTTPException:
        raise
    except UNREADABLE as exc:
        raise UnreadableFileError(str(exc).splitlines()[0]) from exc
    row = con.execute("SELECT count(*) FROM landed").fetchone()
    return int(row[0]) if row else 0


def _checked(entity: Entity) -> str:
    return f"(SELECT *, {casting.reason(entity)} AS _reason FROM landed)"


def good_records(con: duckdb.DuckDBPyConnection, batch: Batch) -> pa.RecordBatchReader:
    """The typed records that fit the schema, in file order, with lineage columns, as an Arrow stream."""
    sql = (
        f"SELECT {casting.typed_columns(batch.entity)}, {casting.literal(batch.batch_id)} AS _batch_id, "
        f"{batch.ingested_at_sql} AS _ingested_at, {casting.literal(batch.source_file)} AS _source_file "
        f"FROM {_checked(batch.entity)} WHERE _reason IS NULL ORDER BY _record"
    )
    return con.execute(sql).to_arrow_reader(BATCH_ROWS).cast(raw_schema(batch.entity))


def bad_records(con: duckdb.DuckDBPyConnection, batch: Batch) -> pa.Table:
    """The records that do not fit, as rows of the quarantine table."""
    sql = (
        f"SELECT {casting.literal(batch.batch_id)} AS batch_id, "
        f"{casting.literal(batch.entity.name)} AS entity, "
        f"{casting.literal(batch.source_file)} AS source_file, _record AS record_number, _reason AS reason, "
        f"{casting.original_record(batch.entity)} AS record, {batch.ingested_at_sql} AS quarantined_at "
        f"FROM {_checked(batch.entity)} WHERE _reason IS NOT NULL ORDER BY _record"
    )
    return con.execute(sql).to_arrow_table().cast(QUARANTINE_SCHEMA)


def explain(batch: Batch, bad: pa.Table) -> list[str]:
    """Messages for the first quarantined records, e.g. "line 17 (order_id=4): status: missing (required)"."""
    pk = batch.entity.primary_key
    messages = []
    for row in bad.slice(0, MAX_RECORD_MESSAGES).to_pylist():
        key_value = json.loads(row["record"]).get(pk)
        key = f" ({pk}={key_value})" if key_value is not None else ""
        messages.append(f"{batch.location(row['record_number'])}{key}: {row['reason']}")
    return messages


def quarantine_uri(settings: Settings, source: str) -> str:
    return settings.uri("quarantine", source, "records")


def quarantine_file(batch: Batch, error: str, settings: Settings) -> str:
    """Copy an unreadable landing file aside and record why (once per batch); returns the copy's URI."""
    dst = settings.uri(
        "quarantine", batch.source, "files", batch.run_date.isoformat(), batch.entity.file_name
    )
    copy_file(batch.source_file, dst, settings)
    row = {
        "batch_id": [batch.batch_id],
        "entity": [batch.entity.name],
        "source_file": [batch.source_file],
        "record_number": [None],
        "reason": [f"file could not be read: {error}; copied to {dst}"],
        "record": [None],
        "quarantined_at": [batch.ingested_at],
    }
    table = pa.table(row, schema=QUARANTINE_SCHEMA)
    append_batch(quarantine_uri(settings, batch.source), table, f"quarantine/{batch.batch_id}#file", settings)
    return dst


def ingest_entity(con: duckdb.DuckDBPyConnection, batch: Batch, settings: Settings) -> EntityReport:
    """Land one entity's file of the day: quarantine first, then the raw append that completes the batch."""
    report = EntityReport(batch.entity.name, batch.source_file, batch.batch_id)
    raw_uri = settings.uri("raw", batch.source, batch.entity.name)
    if batch_already_committed(raw_uri, batch.batch_id, settings):
        report.skipped_already_loaded = True
        return report
    if not file_exists(con, batch.source_file):
        report.file_missing = True
        report.file_error = f"missing: no landing file at {batch.source_file}"
        return report
    try:
        total = land_as_text(con, batch)
    except UnreadableFileError as exc:
        report.file_error = str(exc)
        report.quarantined_file = quarantine_file(batch, report.file_error, settings)
        return report
    bad = bad_records(con, batch)
    if bad.num_rows:
        append_batch(quarantine_uri(settings, batch.source), bad, f"quarantine/{batch.batch_id}", settings)
    if not append_batch(raw_uri, good_records(con, batch), batch.batch_id, settings):
        report.skipped_already_loaded = True  # a concurrent run committed it meanwhile
        return report
    report.rows_landed, report.rows_quarantined = total - bad.num_rows, bad.num_rows
    report.record_problems = explain(batch, bad)
    return report


def ingest_date(run_date: date, source: str = "shop", settings: Settings | None = None) -> IngestReport:
    """Ingest every entity's landing file of `run_date`. Good data lands even when other files have
    problems; check `report.has_problems` / `report.problems()` afterwards."""
    settings = settings or get_settings()
    report = IngestReport(source, run_date, quarantine_uri(settings, source))
    with duckdb_session(settings=settings) as con:
        con.execute("SET TimeZone = 'UTC'")
        for entity in ENTITIES.values():
            uri = settings.uri("landing", source, run_date.isoformat(), entity.file_name)
            report.entities[entity.name] = ingest_entity(con, Batch(source, entity, run_date, uri), settings)
    return report
