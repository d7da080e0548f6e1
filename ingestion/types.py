"""Column types a source can declare, and their Arrow and DuckDB equivalents.

Type names in a source file: string, tinyint, smallint, integer (int), bigint (long), double (float),
decimal(p,s), boolean, date, timestamp (with time zone, stored in UTC), json (JSON text, validated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

# Lineage columns added by ingestion to every raw table.
LINEAGE_FIELDS = [
    pa.field("_batch_id", pa.string(), nullable=False),
    pa.field("_ingested_at", UTC_TS, nullable=False),
    pa.field("_source_file", pa.string(), nullable=False),
]
LINEAGE_NAMES = tuple(f.name for f in LINEAGE_FIELDS)
# What a row of a snapshot entity (`load: snapshot`) is: 'insert', 'update' or 'delete' (a tombstone that
# repeats the key's last known values), against the previous snapshot. ingestion/snapshots.py.
CHANGE_FIELD = pa.field("_change", pa.string(), nullable=False)
RESERVED_NAMES = (*LINEAGE_NAMES, CHANGE_FIELD.name)

_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


@dataclass(frozen=True)
class ColumnType:
    name: str  # canonical name, e.g. "bigint" or "decimal(12,2)"
    arrow: pa.DataType
    duckdb: str

    @property
    def is_integer(self) -> bool:
        return pa.types.is_integer(self.arrow)

    @property
    def is_json(self) -> bool:
        return self.name == "json"


_SIMPLE: dict[str, tuple[pa.DataType, str]] = {
    "string": (pa.string(), "VARCHAR"),
    "tinyint": (pa.int8(), "TINYINT"),
    "smallint": (pa.int16(), "SMALLINT"),
    "integer": (pa.int32(), "INTEGER"),
    "bigint": (pa.int64(), "BIGINT"),
    "double": (pa.float64(), "DOUBLE"),
    "boolean": (pa.bool_(), "BOOLEAN"),
    "date": (pa.date32(), "DATE"),
    "timestamp": (UTC_TS, "TIMESTAMPTZ"),
    "json": (pa.string(), "JSON"),
}
_ALIASES = {
    "text": "string",
    "varchar": "string",
    "int": "integer",
    "int32": "integer",
    "int64": "bigint",
    "long": "bigint",
    "int8": "tinyint",
    "int16": "smallint",
    "float": "double",
    "float64": "double",
    "bool": "boolean",
    "timestamptz": "timestamp",
    "timestamp with time zone": "timestamp",
}
TYPE_NAMES = (*_SIMPLE, "decimal(p,s)")


def parse_type(text: str) -> ColumnType:
    """The column type named by `text`; ValueError naming the accepted types otherwise."""
    name = " ".join(text.strip().lower().split())
    name = _ALIASES.get(name, name)
    if name in _SIMPLE:
        arrow, duck = _SIMPLE[name]
        return ColumnType(name, arrow, duck)
    match = _DECIMAL.match(name)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(f"decimal({precision},{scale}): precision must be 1-38 and scale <= precision")
        return ColumnType(
            f"decimal({precision},{scale})",
            pa.decimal128(precision, scale),
            f"DECIMAL({precision},{scale})",
        )
    raise ValueError(f"unknown column type {text!r}; use one of {', '.join(TYPE_NAMES)}")


def duckdb_type_of_arrow(dtype: pa.DataType) -> str:
    """The DuckDB type of a column that arrived with an Arrow type (e.g. an undeclared Parquet column)."""
    for arrow, duck in _SIMPLE.values():
        if arrow == dtype and duck != "JSON":
            return duck
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    return "VARCHAR"
