"""The Soda contracts' checks as plain SQL for the floor: one query per check, the counts Soda computes.

Translated: schema (the table's columns), row_count, duplicate (dataset and column), missing, invalid
(valid_values / valid_min / valid_max), freshness (max of the column), failed_rows (query or expression).
`${var.BATCH}` is the night's batch of the dataset, `${var.RUN_END}` / `${soda.NOW}` the end of the run date.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from ingestion.casting import ident, literal
from lakehouse.layout import raw_schema_source
from quality.scan import contract_files


def _variables(table: str, day: date) -> dict[str, str]:
    schema, entity = table.split(".")
    run_end = f"{(day + timedelta(days=1)).isoformat()}T00:00:00+00:00"
    return {
        "var.BATCH": literal(f"{raw_schema_source(schema)}/{entity}/{day.isoformat()}"),
        "var.RUN_END": literal(run_end),
        "soda.NOW": literal(run_end),
    }


def _substitute(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{([a-z_.A-Z]+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _column_check(kind: str, check: dict[str, Any], column: str, source: str) -> str | None:
    col = ident(column)
    if kind == "missing":
        return f"select count(*) filter (where {col} is null) from {source}"
    if kind == "duplicate":
        return f"select count({col}) - count(distinct {col}) from {source}"
    if kind == "invalid":
        tests = []
        if "valid_values" in check:
            tests.append(f"{col} not in ({', '.join(literal(str(v)) for v in check['valid_values'])})")
        if "valid_min" in check:
            tests.append(f"{col} < {check['valid_min']}")
        if "valid_max" in check:
            tests.append(f"{col} > {check['valid_max']}")
        return f"select count(*) filter (where {' or '.join(tests) or 'false'}) from {source}"
    return None


def _dataset_check(kind: str, check: dict[str, Any], table: str, source: str) -> str | None:
    if kind == "schema":
        schema, name = table.split(".")
        return (
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = {literal(schema)} and table_name = {literal(name)}"
        )
    if kind == "row_count":
        return f"select count(*) from {source}"
    if kind == "duplicate":
        cols = ", ".join(ident(c) for c in check["columns"])
        return (
            f"select count(*) - (select count(*) from (select distinct {cols} from {source})) from {source}"
        )
    if kind == "freshness":
        return f"select max({ident(check['column'])}) from {source}"
    if kind == "failed_rows" and "query" in check:
        return f"select count(*) from ({check['query']}) as failed"
    if kind == "failed_rows" and "expression" in check:
        return f"select count(*) filter (where {check['expression']}) from {source}"
    return None


def translate(contract: Path, day: date) -> list[str]:
    """One SQL query per check of `contract` that has a plain-SQL equivalent."""
    spec = yaml.safe_load(contract.read_text())
    table = ".".join(spec["dataset"].split("/")[1:])
    values = _variables(table, day)
    where = f" where {spec['filter']}" if spec.get("filter") else ""
    source = f"(select * from {table}{where}) as t"
    queries = [
        _dataset_check(kind, check or {}, table, source)
        for item in spec.get("checks", [])
        for kind, check in item.items()
    ]
    queries += [
        _column_check(kind, check or {}, column["name"], source)
        for column in spec.get("columns", [])
        for item in column.get("checks", []) or []
        for kind, check in item.items()
    ]
    return [_substitute(q, values) for q in queries if q]


def contract_checks(layer: str, day: date) -> list[str]:
    """Every check of the layer's contracts (`raw` or `marts`) as SQL for the night `day`."""
    assert layer in ("raw", "marts")
    return [q for contract in contract_files(layer) for q in translate(contract, day)]  # type: ignore[arg-type]
