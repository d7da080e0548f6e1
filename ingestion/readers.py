"""Read one landing file into DuckDB, record by record: bad records are set aside, the rest is kept.

`read_file` leaves two temp tables on the connection:

    <name>          _line, every column of the file (VARCHAR for CSV/JSON, native types for Parquet)
    <name>_rejects  _line, reason, record: records that could not even be parsed

`_line` is where the record is in the file, in the file's own terms: the line for CSV (the header is line
1; a record with a quoted newline counts as one line) and JSON lines, the element for a JSON array, the row
for Parquet. CSV parse errors come from DuckDB's `store_rejects`; JSON lines are read as text lines and
parsed one by one, so one truncated line costs that line only.

JSON has a fast path: a file whose every record is an object with only declared keys is read by DuckDB's
JSON reader straight into one text column per key (one parse, no text of the lines kept). Anything else
(a malformed line, a non-object, a duplicate or undeclared key, an over-size record) makes DuckDB's reader
fail and the file is read the exact way above. The values stay text: DuckDB's typed readers accept what the
declared types must refuse (CSV: '2.5' into BIGINT as 3, 'x' into TIMESTAMPTZ as NULL; both: a timestamp
into DATE by truncation, a decimal rounded to its scale), so typing stays with ingestion/casting.py. A
JSON-lines file read fast numbers its records, not its lines (DuckDB skips blank lines): `exact_lines` is
False, and a caller that quarantines one of its records reads it again with `text_path=True`.
"""

from __future__ import annotations

import csv
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
    exact_lines: bool = True  # False: `_line` numbers the records (a JSON-lines file read fast)


LOCATION_WORDS = {"csv": "line", "jsonl": "line", "json": "record", "parquet": "row"}  # what _line counts


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


def _number_good_rows(con: duckdb.DuckDBPyConnection, view: str, parsed: str, offset: int) -> None:
    """A view `view` over the parsed rows (in file order: rowid) with their lines, skipping rejected lines.

    DuckDB numbers rejected lines by record (header and skipped lines included); a parsed row's line is its
    position among all records: row k follows every rejected record whose line - offset - rank < k.
    The view copies nothing: the parsed text is held once.
    """
    ranked = f"{parsed}_ranked"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ranked} AS
        SELECT line, row_number() OVER (ORDER BY line) AS i FROM (SELECT DISTINCT line FROM reject_errors)"""
    )
    row = con.execute(f"SELECT count(*) FROM {ranked}").fetchone()
    skipped = (
        f" + (SELECT count(*) FROM {ranked} r WHERE r.line - {offset} - r.i < p.rowid + 1)"
        if row and row[0]
        else ""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT p.rowid + 1 + {offset}{skipped} AS _line, p.* "
        f"FROM {parsed} p"
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
    line = str(rows[0][0]).rstrip("\r\n")
    header = next(csv.reader([line], delimiter=opts.delimiter, quotechar=opts.quote or None))
    return [h.strip() for h in header]


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
    _new_rejects(con, table)
    _fresh_rejects(con)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table}_parsed AS SELECT * FROM read_csv({literal(uri)},
        header = false, skip = {int(opts.header)}, columns = {columns}, auto_detect = false,
        delim = {literal(opts.delimiter)}, quote = {literal(opts.quote)}, escape = {literal(opts.escape)},
        encoding = {literal(opts.encoding)}, max_line_size = {_line_size(entity, limits)},
        store_rejects = true, ignore_errors = true, null_padding = false, strict_mode = true)"""
    )
    _number_good_rows(con, table, f"{table}_parsed", int(opts.header))
    _store_duckdb_rejects(con, table)
    read = FileRead(table, "csv", {h: "VARCHAR" for h in header})
    read.records, read.rejected = _count(con, table), _count(con, f"{table}_rejects")
    read.header_only = read.records + read.rejected == 0
    return read


def _text_lines(con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str) -> str:
    """The file's lines as text (`_text`), numbered, in a view; lines DuckDB cannot read (encoding, size)
    rejected. Returns the view's name."""
    _fresh_rejects(con)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table}_parsed AS SELECT * FROM read_csv({literal(uri)},
        header = false, columns = {{'_text': 'VARCHAR'}}, auto_detect = false, delim = {literal(chr(1))},
        quote = '', escape = '', max_line_size = {_line_size(entity, limits)}, store_rejects = true,
        ignore_errors = true, strict_mode = false)"""
    )
    _number_good_rows(con, f"{table}_lines", f"{table}_parsed", 0)
    _new_rejects(con, table)
    _store_duckdb_rejects(con, table)
    return f"{table}_lines"


# valid JSON whose first non-blank character is { is an object (cheaper than json_type: no second parse)
IS_OBJECT = "(json_valid(_text) AND starts_with(ltrim(_text, chr(32) || chr(9) || chr(13)), '{'))"
BLANK = "(_text IS NULL OR trim(_text) = '')"  # blank lines are not records


def _reject_non_objects(con: duckdb.DuckDBPyConnection, lines: str, table: str) -> None:
    con.execute(
        f"""INSERT INTO {table}_rejects SELECT _line,
            CASE WHEN json_valid(_text) THEN 'not a JSON object but ' || json_type(_text)
                 ELSE 'not valid JSON (truncated or malformed)' END, left(_text, {RECORD_CHARS})
        FROM {lines} WHERE NOT {BLANK} AND ({IS_OBJECT}) IS NOT TRUE"""
    )


def _json_columns(con: duckdb.DuckDBPyConnection, lines: str, entity: Entity) -> dict[str, str]:
    """Declared columns first, then keys found in the records that the source does not declare."""
    rows = con.execute(
        f"SELECT k FROM (SELECT unnest(json_keys(CASE WHEN {IS_OBJECT} THEN _text END)) AS k, _line "
        f"FROM {lines}) GROUP BY k ORDER BY min(_line)"
    ).fetchall()
    found = [str(r[0]) for r in rows]
    extras = [k for k in found if k not in entity.columns]
    present = [k for k in entity.columns if k in found]
    return {k: "VARCHAR" for k in [*present, *extras]}


def _json_path(name: str) -> str:
    return literal("$." + '"' + name.replace('"', '\\"') + '"')


def _extract_json(
    con: duckdb.DuckDBPyConnection, lines: str, table: str, entity: Entity, columns: list[str]
) -> None:
    """One parse per record for all text values (json_extract_string with a list of paths), one more for
    the json-typed columns; strings as their text, other values (numbers, objects) as JSON text;
    a JSON null is a missing value (NULL) in every column."""
    json_cols = [n for n in columns if n in entity.columns and entity.columns[n].column_type.is_json]
    text_cols = [n for n in columns if n not in json_cols]
    parts = []
    if text_cols:
        paths = ", ".join(_json_path(n) for n in text_cols)
        parts.append(f"json_extract_string(_text, [{paths}]) AS _t")
    if json_cols:
        paths = ", ".join(_json_path(n) for n in json_cols)
        parts.append(f"json_extract(_text, [{paths}]) AS _j")
    values = [f"_t[{i + 1}] AS {ident(n)}" for i, n in enumerate(text_cols)]
    values += [f"NULLIF(CAST(_j[{i + 1}] AS VARCHAR), 'null') AS {ident(n)}" for i, n in enumerate(json_cols)]
    inner = f"SELECT _line{''.join(', ' + p for p in parts)} FROM {lines} WHERE {IS_OBJECT}"
    order = ", ".join(["_line", *[ident(n) for n in columns]])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {order} FROM (SELECT _line, "
        f"{', '.join(values) or 'NULL AS _none'} FROM ({inner}))"
    )


def _json_read(con: duckdb.DuckDBPyConnection, lines: str, table: str, entity: Entity, fmt: str) -> FileRead:
    """JSON objects -> `table` (one text column per key); other lines rejected; the text is then dropped."""
    _reject_non_objects(con, lines, table)
    columns = _json_columns(con, lines, entity)
    _extract_json(con, lines, table, entity, list(columns))
    con.execute(f"DROP VIEW IF EXISTS {table}_lines")
    con.execute(f"DROP TABLE IF EXISTS {table}_parsed")
    read = FileRead(table, fmt, columns)
    read.records, read.rejected = _count(con, table), _count(con, f"{table}_rejects")
    read.header_only = read.records + read.rejected == 0
    return read


def _json_fast(
    con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str, fmt: str
) -> FileRead | None:
    """The fast path (module docstring); None when the file needs the exact path."""
    options = f"format = {literal('newline_delimited' if fmt == 'jsonl' else 'array')}, " + (
        f"maximum_object_size = {_line_size(entity, limits)}"
    )
    try:
        row = con.execute(
            f"""SELECT count(*) FILTER (WHERE json_type(json) <> 'OBJECT'),
                list_distinct(flatten(list(DISTINCT json_keys(json))))
            FROM read_json_objects({literal(uri)}, {options})"""
        ).fetchone()
    except UNREADABLE:
        return None
    if row is None or row[0] or any(k not in entity.columns for k in row[1] or []):
        return None
    found = {str(k) for k in row[1] or []}
    columns = [n for n in entity.columns if n in found]
    if not columns:
        return None  # no declared key at all: the exact path says what the records are
    is_json = {n: entity.columns[n].column_type.is_json for n in columns}
    types = ", ".join(f"{literal(n)}: {literal('JSON' if is_json[n] else 'VARCHAR')}" for n in columns)
    values = ", ".join(
        f"CAST({ident(n)} AS VARCHAR) AS {ident(n)}" if is_json[n] else ident(n) for n in columns
    )
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table}_parsed AS SELECT {values}
            FROM read_json({literal(uri)}, {options}, columns = {{{types}}})"""
        )
    except UNREADABLE:
        drop_temp_objects(con, f"{table}_parsed", exact=True)
        return None
    con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT rowid + 1 AS _line, * FROM {table}_parsed")
    _new_rejects(con, table)
    read = FileRead(table, fmt, {n: "VARCHAR" for n in columns}, exact_lines=fmt != "jsonl")
    read.records = _count(con, table)
    read.header_only = read.records == 0
    return read


def read_jsonl_file(
    con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str
) -> FileRead:
    lines = _text_lines(con, uri, entity, limits, table)
    return _json_read(con, lines, table, entity, "jsonl")


def read_json_array_file(
    con: duckdb.DuckDBPyConnection, uri: str, entity: Entity, limits: Limits, table: str
) -> FileRead:
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table}_parsed AS SELECT CAST(json AS VARCHAR) AS _text
            FROM read_json_objects({literal(uri)}, format = 'array',
            maximum_object_size = {_line_size(entity, limits)})"""
        )
    except UNREADABLE as exc:
        raise UnreadableFileError(_first_line(exc)) from exc
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {table}_lines AS SELECT rowid + 1 AS _line, _text FROM {table}_parsed"
    )
    _new_rejects(con, table)
    return _json_read(con, f"{table}_lines", table, entity, "json")


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


def drop_landed_text(con: duckdb.DuckDBPyConnection, read: FileRead) -> None:
    """Drop what `read_file` holds of a file's text (not its rejects): frees its memory once typed."""
    for name in (read.table, f"{read.table}_lines", f"{read.table}_parsed", f"{read.table}_parsed_ranked"):
        drop_temp_objects(con, name, exact=True)


def drop_temp_objects(con: duckdb.DuckDBPyConnection, prefix: str, exact: bool = False) -> None:
    """Drop every temp view and table whose name starts with `prefix` (or is `prefix`, when exact)."""
    match = "view_name = ?" if exact else "starts_with(view_name, ?)"
    views = con.execute(
        f"SELECT view_name FROM duckdb_views() WHERE temporary AND {match}", [prefix]
    ).fetchall()
    for (name,) in views:
        con.execute(f"DROP VIEW IF EXISTS {ident(name)}")
    match = match.replace("view_name", "table_name")
    tables = con.execute(
        f"SELECT table_name FROM duckdb_tables() WHERE temporary AND {match}", [prefix]
    ).fetchall()
    for (name,) in tables:
        con.execute(f"DROP TABLE IF EXISTS {ident(name)}")


def read_file(
    con: duckdb.DuckDBPyConnection,
    uri: str,
    entity: Entity,
    limits: Limits,
    table: str,
    text_path: bool = False,
) -> FileRead:
    """Read `uri` as `entity.format` into the temp relation `table` (with `table`_rejects); `text_path`
    skips the JSON fast path (exact line numbers)."""
    drop_temp_objects(con, table)
    try:
        if entity.format in ("jsonl", "json") and not text_path:
            fast = _json_fast(con, uri, entity, limits, table, entity.format)
            if fast is not None:
                return fast
        return READERS[entity.format](con, uri, entity, limits, table)
    except duckdb.HTTPException:
        raise
    except UNREADABLE as exc:
        raise UnreadableFileError(_first_line(exc)) from exc
