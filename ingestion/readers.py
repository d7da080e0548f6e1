"""Read one landing file into DuckDB, record by record: bad records are set aside, the rest is kept.

`read_file` leaves two temp tables on the connection:

    <name>          _line, every column of the file (VARCHAR for CSV/JSON, native types for Parquet)
    <name>_rejects  _line, reason, record: records that could not even be parsed

`_line` is where the record is in the file, in the file's own terms: the line for CSV (the header is line
1; a record with a quoted newline counts as one line) and JSON lines, the element for a JSON array, the row
for Parquet. CSV parse errors come from DuckDB's `store_rejects`; JSON lines are read as text lines and
parsed one by one, so one truncated line costs that line only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from ingestion.casting import ident, literal
from ingestion.registry import Entity, Limits

RECORD_CHARS = 65_536  # how much of a rejected record's text the quarantine keeps
UNREADABLE = (
    duckdb.InvalidInputException,
    duckdb.ConversionException,
    duckdb.IOException,
    duckdb.NotImplementedException,
    duckdb.BinderException,
)
REJECT_REASONS = {
    "INVALID ENCODING": "not valid UTF-8 text",
    "LINE SIZE OVER MAXIMUM": "line is over the size limit",
    "TOO MANY COLUMNS": "more fields than the header",
    "MISSING COLUMNS": "fewer fields than the header",
    "UNQUOTED VALUE": "unterminated or misplaced quote",
    "CAST": "value does not parse",
}


class UnreadableFileError(Exception):
    """The file cannot be parsed as its format at all (not a single record could be read)."""


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _first_line(exc: Exception) -> str:
    return _clip(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


@dataclass
class FileRead:
    table: str
    format: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> DuckDB type, in file order
    records: int = 0
    rejected: int = 0
    header_only: bool = False


def location(fmt: str, line: int) -> str:
    return {"csv": f"line {line}", "jsonl": f"line {line}", "json": f"record {line}"}.get(fmt, f"row {line}")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _line_size(entity: Entity, limits: Limits) -> int:
    return max(2_097_152, limits.max_field_bytes * (len(entity.columns) + 1) + 4096)


def _fresh_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's store_rejects tables keep earlier scans' rows: start each scan with none."""
    con.execute("DROP TABLE IF EXISTS reject_errors")
    con.execute("DROP TABLE IF EXISTS reject_scans")


def _new_rejects(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_rejects (_line BIGINT, reason VARCHAR, record VARCHAR)"
    )


def _number_good_rows(con: duckdb.DuckDBPyConnection, table: str, parsed: str, offset: int) -> None:
    """Give the parsed rows (in file order, rowid) their lines, skipping the lines DuckDB rejected.

    DuckDB numbers rejected lines by record (header and skipped lines included); a parsed row's line is its
    position among all records: row k follows every rejected record whose line - offset - rank < k.
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _ranked AS
        SELECT line, row_number() OVER (ORDER BY line) AS i FROM (SELECT DISTINCT line FROM reject_errors)"""
    )
    con.execute(
        f"""INSERT INTO {table} SELECT p.rowid + 1 + {offset}
            + (SELECT count(*) FROM _ranked r WHERE r.line - {offset} - r.i < p.rowid + 1) AS _line, p.*
        FROM {parsed} p"""
    )


def _store_duckdb_rejects(con: duckdb.DuckDBPyConnection, table: str) -> None:
    cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in REJECT_REASONS.items())
    con.execute(
        f"""INSERT INTO {table}_rejects
        SELECT line, concat(CASE error_type {cases} ELSE error_type END, ': ', error_message),
               left(csv_line, {RECORD_CHARS})
        FROM (SELECT DISTINCT ON (line) * FROM reject_errors ORDER BY line, column_idx)"""
    )


def csv_header(con: duckdb.DuckDBPyConnection, uri: str, entity: Entity) -> list[str]:
    """The column names in the CSV header line (raises UnreadableFileError for an empty file)."""
    opts = entity.csv
    try:
        rows = con.execute(
            f"""SELECT * FROM read_csv({literal(uri)}, header = false, all_varchar = true,
            auto_detect = false, columns = {{'line': 'VARCHAR'}}, delim = {literal(chr(1))}, quote = '',
            escape = '', strict_mode = false,
            encoding = {literal(opts.encoding)}, max_line_size = 1048576, ignore_errors = true) LIMIT 1"""
        ).fetchall()
    except UNREADABLE as exc:
        raise UnreadableFileError(_first_line(exc)) from exc
    if not rows or rows[0][0] is None:
        return []
    header = con.execute(
        "SELECT unnest(?::VARCHAR[])", [_split_header(str(rows[0][0]), opts.delimiter, opts.quote)]
    ).fetchall()
    return [str(h[0]).strip() for h in header]


def _split_header(line: str, delimiter: str, quote: str) -> list[str]:
    import csv

    return next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter, quotechar=quote or None))


def read_csv_file(
    con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str
) -> FileRead:
    opts = entity.csv
    header = csv_header(con, uri, entity) if opts.header else list(entity.columns)
    if not header:
        return FileRead(table, "csv", header_only=True)  # an empty file: not even a header line
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise UnreadableFileError(f"the header names columns more than once: {_clip(str(twice))}")
    columns = "{" + ", ".join(f"{literal(h)}: 'VARCHAR'" for h in header) + "}"
    text_columns = ", ".join(f"{ident(h)} VARCHAR" for h in header)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (_line BIGINT, {text_columns})")
    _new_rejects(con, table)
    _fresh_rejects(con)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _parsed AS SELECT * FROM read_csv({literal(uri)},
        header = false, skip = {int(opts.header)}, columns = {columns}, auto_detect = false,
        delim = {literal(opts.delimiter)}, quote = {literal(opts.quote)}, escape = {literal(opts.escape)},
        encoding = {literal(opts.encoding)}, max_line_size = {_line_size(entity, limits)},
        store_rejects = true, ignore_errors = true, null_padding = false, strict_mode = true)"""
    )
    _number_good_rows(con, table, "_parsed", int(opts.header))
    _store_duckdb_rejects(con, table)
    read = FileRead(table, "csv", {h: "VARCHAR" for h in header})
    read.records, read.rejected = _count(con, table), _count(con, f"{table}_rejects")
    read.header_only = read.records + read.rejected == 0
    return read


def _text_lines(con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str) -> None:
    """The file's lines as text (`_text`), numbered; lines DuckDB cannot read (encoding, size) rejected."""
    _fresh_rejects(con)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _parsed AS SELECT * FROM read_csv({literal(uri)}, header = false,
        columns = {{'_text': 'VARCHAR'}}, auto_detect = false, delim = {literal(chr(1))}, quote = '',
        escape = '',
        max_line_size = {_line_size(entity, limits)}, store_rejects = true, ignore_errors = true,
        strict_mode = false)"""
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _lines (_line BIGINT, _text VARCHAR)")
    _number_good_rows(con, "_lines", "_parsed", 0)
    _new_rejects(con, table)
    _store_duckdb_rejects(con, table)


IS_OBJECT = "(CASE WHEN json_valid(_text) THEN json_type(_text) END) = 'OBJECT'"


def _split_objects(con: duckdb.DuckDBPyConnection, source: str, table: str) -> None:
    """Keep the lines that are JSON objects in `_objects`; reject the others with the reason."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _objects AS SELECT * FROM {source} WHERE {IS_OBJECT}")
    con.execute(
        f"""INSERT INTO {table}_rejects SELECT _line,
            CASE WHEN json_valid(_text) THEN 'not a JSON object but ' || json_type(_text)
                 ELSE 'not valid JSON (truncated or malformed)' END, left(_text, {RECORD_CHARS})
        FROM {source} WHERE ({IS_OBJECT}) IS NOT TRUE"""
    )


def _json_columns(con: duckdb.DuckDBPyConnection, entity: Entity) -> dict[str, str]:
    """Declared columns first, then keys found in the records that the source does not declare."""
    rows = con.execute(
        "SELECT k FROM (SELECT unnest(json_keys(_text)) AS k, _line FROM _objects) "
        "GROUP BY k ORDER BY min(_line)"
    ).fetchall()
    found = [str(r[0]) for r in rows]
    extras = [k for k in found if k not in entity.columns]
    present = [k for k in entity.columns if k in found]
    return {k: "VARCHAR" for k in [*present, *extras]}


def _json_value(name: str, entity: Entity) -> str:
    """A key's value as text: strings as their text, other values (objects, arrays, numbers) as JSON text."""
    path = literal("$." + '"' + name.replace('"', '\\"') + '"')
    column = entity.columns.get(name)
    if column is not None and column.column_type.is_json:
        return f"CAST(json_extract(_text, {path}) AS VARCHAR)"
    return f"json_extract_string(_text, {path})"


def _extract_json(con: duckdb.DuckDBPyConnection, table: str, entity: Entity, columns: list[str]) -> None:
    values = ", ".join(f"{_json_value(n, entity)} AS {ident(n)}" for n in columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT _line, {values} FROM _objects ORDER BY _line"
    )


def _json_read(con: duckdb.DuckDBPyConnection, table: str, entity: Entity, fmt: str) -> FileRead:
    _split_objects(con, "_lines", table)
    columns = _json_columns(con, entity)
    _extract_json(con, table, entity, list(columns))
    read = FileRead(table, fmt, columns)
    read.records, read.rejected = _count(con, table), _count(con, f"{table}_rejects")
    read.header_only = read.records + read.rejected == 0
    return read


def read_jsonl_file(
    con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str
) -> FileRead:
    _text_lines(con, uri, entity, limits, table)
    con.execute("DELETE FROM _lines WHERE _text IS NULL OR trim(_text) = ''")  # blank lines are not records
    return _json_read(con, table, entity, "jsonl")


def read_json_array_file(
    con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str
) -> FileRead:
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _objects AS SELECT CAST(json AS VARCHAR) AS _text
            FROM read_json_objects({literal(uri)}, format = 'array',
            maximum_object_size = {_line_size(entity, limits)})"""
        )
    except UNREADABLE as exc:
        raise UnreadableFileError(_first_line(exc)) from exc
    con.execute("CREATE OR REPLACE TEMP TABLE _lines AS SELECT rowid + 1 AS _line, _text FROM _objects")
    _new_rejects(con, table)
    return _json_read(con, table, entity, "json")


def read_parquet_file(
    con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str
) -> FileRead:
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT file_row_number + 1 AS _line, * EXCLUDE (file_row_number)
            FROM read_parquet({literal(uri)}, file_row_number = true)"""
        )
    except UNREADABLE as exc:
        raise UnreadableFileError(_first_line(exc)) from exc
    _new_rejects(con, table)
    described = con.execute(f"DESCRIBE {table}").fetchall()
    read = FileRead(table, "parquet", {str(r[0]): str(r[1]) for r in described if r[0] != "_line"})
    read.records = _count(con, table)
    read.header_only = read.records == 0
    return read


READERS = {
    "csv": read_csv_file,
    "jsonl": read_jsonl_file,
    "json": read_json_array_file,
    "parquet": read_parquet_file,
}


def read_file(
    con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str
) -> FileRead:
    """Read `uri` as `entity.format` into the temp tables `table` and `table`_rejects."""
    try:
        return READERS[entity.format](con, uri, entity, limits, table)
    except duckdb.HTTPException:
        raise
    except UNREADABLE as exc:
        raise UnreadableFileError(_first_line(exc)) from exc
