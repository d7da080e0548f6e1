"""SQL that types landing records (read as VARCHAR) to an entity's schema and explains what does not fit.

A value is accepted only if it converts without loss: integers must look like integers ('2.5' is not a
valid INTEGER, although DuckDB's TRY_CAST would round it).
"""

from __future__ import annotations

import pyarrow as pa

from ingestion.shop.schema import UTC_TS, Entity

DUCKDB_TYPES: dict[pa.DataType, str] = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
    UTC_TS: "TIMESTAMPTZ",
}
INTEGER_TEXT = r"\s*[+-]?[0-9]+(\.0*)?\s*"
MAX_VALUE_CHARS = 80


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_type(dtype: pa.DataType) -> str:
    try:
        return DUCKDB_TYPES[dtype]
    except KeyError:
        raise TypeError(f"no DuckDB type mapped for Arrow type {dtype}; add it to DUCKDB_TYPES") from None


def typed(field: pa.Field) -> str:
    """The typed value of a VARCHAR column, NULL when it does not convert."""
    col, sql_type = ident(field.name), duckdb_type(field.type)
    if pa.types.is_integer(field.type):
        return f"CASE WHEN regexp_full_match({col}, '{INTEGER_TEXT}') THEN TRY_CAST({col} AS {sql_type}) END"
    return f"TRY_CAST({col} AS {sql_type})"


def problem(field: pa.Field, required: bool) -> str:
    """NULL when the column's value is fine, else e.g. "quantity: 'abc' is not a valid INTEGER"."""
    col, name = ident(field.name), field.name.replace("'", "''")
    missing = f"WHEN {col} IS NULL THEN '{name}: missing (required)' " if required else ""
    value = f"left({col}, {MAX_VALUE_CHARS})"
    invalid = f"format('{name}: ''{{}}'' is not a valid {duckdb_type(field.type)}', {value})"
    return f"CASE {missing}WHEN {col} IS NOT NULL AND {typed(field)} IS NULL THEN {invalid} END"


def reason(entity: Entity) -> str:
    """All problems of a record joined by '; ', NULL for a good record."""
    parts = [problem(f, f.name in entity.required) for f in entity.schema]
    return f"NULLIF(concat_ws('; ', {', '.join(parts)}), '')"


def typed_columns(entity: Entity) -> str:
    return ", ".join(f"{typed(f)} AS {ident(f.name)}" for f in entity.schema)


def original_record(entity: Entity) -> str:
    """The record as landed, as a JSON object of strings."""
    return "to_json(struct_pack(" + ", ".join(f"{ident(n)} := {ident(n)}" for n in entity.schema.names) + "))"
