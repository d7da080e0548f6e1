"""SQL that types landed values to an entity's declared columns and explains what does not fit.

Text formats (CSV, JSON) land every value as VARCHAR; Parquet lands native types. A value is accepted only
if it converts without loss: integers must look like integers ('2.5' is not a valid INTEGER although
DuckDB's TRY_CAST would round it), decimals may not carry more digits than their scale, a DATE column takes
a date and not a timestamp, dates lie within the source's limits, JSON columns hold valid JSON, and no text
field is longer than the source's size limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ingestion.registry import Entity, Limits
from ingestion.types import ColumnType

INTEGER_TEXT = r"\s*[+-]?[0-9]+(\.0*)?\s*"
DECIMAL_TEXT = r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*"
DATE_TEXT = r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*"
MAX_VALUE_CHARS = 80


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class ColumnCheck:
    """How one declared column is typed and checked; `landed_type` is the DuckDB type it arrived as."""

    name: str
    type: ColumnType
    required: bool
    landed_type: str = "VARCHAR"

    @property
    def is_text(self) -> bool:
        return self.landed_type == "VARCHAR"

    @property
    def col(self) -> str:
        return ident(self.name)

    def typed(self) -> str:
        """The typed value, NULL when it does not convert."""
        col, target = self.col, self.type.duckdb
        if self.type.is_json:
            return f"CASE WHEN json_valid({col}) THEN CAST({col} AS JSON) END" if self.is_text else col
        if self.is_text and self.type.is_integer:
            return (
                f"CASE WHEN regexp_full_match({col}, '{INTEGER_TEXT}') THEN TRY_CAST({col} AS {target}) END"
            )
        if self.is_text and target.startswith("DECIMAL"):
            return (
                f"CASE WHEN regexp_full_match({col}, '{DECIMAL_TEXT}') THEN TRY_CAST({col} AS {target}) END"
            )
        return f"TRY_CAST({col} AS {target})"

    def _lossy_decimal(self) -> str | None:
        if not (self.is_text and self.type.duckdb.startswith("DECIMAL")):
            return None
        scale = int(self.type.duckdb.rstrip(")").rsplit(",", 1)[1])
        digits = f"length(rtrim(regexp_extract({self.col}, '\\.([0-9]*)', 1), '0'))"
        return f"WHEN {digits} > {scale} THEN {self._message('has more than ' + str(scale) + ' decimals')}"

    def _message(self, what: str) -> str:
        name = self.name.replace("'", "''")
        return f"format('{name}: ''{{}}'' {what}', left(CAST({self.col} AS VARCHAR), {MAX_VALUE_CHARS}))"

    def problem(self, limits: Limits) -> str:
        """NULL when the value is fine, else e.g. "quantity: '2.5' is not a valid INTEGER"."""
        col, name = self.col, self.name.replace("'", "''")
        typed = self.typed()
        whens = [f"WHEN {col} IS NULL THEN '{name}: missing (required)'"] if self.required else []
        whens.append(f"WHEN {col} IS NULL THEN NULL")
        if self.is_text:
            size = f"strlen({col})"
            whens.append(
                f"WHEN {size} > {limits.max_field_bytes} THEN format('{name}: value of {{}} bytes is over "
                f"the limit of {limits.max_field_bytes} bytes', {size})"
            )
        if self.is_text and self.type.duckdb == "DATE":
            whens.append(
                f"WHEN NOT regexp_full_match({col}, '{DATE_TEXT}') "
                f"AND TRY_CAST({col} AS TIMESTAMP) IS NOT NULL "
                f"THEN {self._message('is a timestamp, not a DATE')}"
            )
        lossy = self._lossy_decimal()
        if lossy:
            whens.append(lossy)
        whens.append(f"WHEN {typed} IS NULL THEN {self._message('is not a valid ' + self.type.duckdb)}")
        if self.type.duckdb in ("DATE", "TIMESTAMPTZ"):
            low, high = limits.min_date.isoformat(), limits.max_date.isoformat()
            if self.type.duckdb == "DATE":
                outside = f"{typed} < DATE '{low}' OR {typed} > DATE '{high}'"
            else:  # the UTC day, compared as instants (a cast to DATE goes through the time zone library)
                after = (limits.max_date + timedelta(days=1)).isoformat()
                first, end = f"TIMESTAMPTZ '{low} 00:00:00+00'", f"TIMESTAMPTZ '{after} 00:00:00+00'"
                outside = f"{typed} < {first} OR {typed} >= {end}"
            whens.append(
                f"WHEN {outside} THEN {self._message(f'is outside the accepted dates {low} to {high}')}"
            )
        return "CASE " + " ".join(whens) + " END"


def column_checks(entity: Entity, landed_types: dict[str, str]) -> list[ColumnCheck]:
    """The checks of the declared columns; a column the file lacks lands as NULL VARCHAR."""
    return [
        ColumnCheck(name, column.column_type, name in entity.required, landed_types.get(name, "VARCHAR"))
        for name, column in entity.columns.items()
    ]


def reason(checks: list[ColumnCheck], limits: Limits) -> str:
    """All problems of a record joined by '; ', NULL for a good record."""
    parts = [c.problem(limits) for c in checks]
    return f"NULLIF(concat_ws('; ', {', '.join(parts)}), '')"


def typed_columns(checks: list[ColumnCheck]) -> str:
    return ", ".join(f"{c.typed()} AS {c.col}" for c in checks)


def original_record(columns: dict[str, str], max_chars: int) -> str:
    """The record as landed (name -> the SQL of its landed value), as a JSON object capped at `max_chars`."""
    fields = ", ".join(f"{ident(n)} := {sql}" for n, sql in columns.items())
    return f"left(CAST(to_json(struct_pack({fields})) AS VARCHAR), {max_chars})"
