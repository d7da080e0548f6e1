"""Run the `lakehouse` console script in a subprocess against a test lake and a test Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from lakehouse.settings import TELEMETRY_OFF, Settings

LAKEHOUSE = Path(sys.executable).with_name("lakehouse")


def cli_env(settings: Settings, prefect_api: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "DBT_", "PREFECT_API"))}
    env.update(TELEMETRY_OFF, LAKEHOUSE_ROOT=settings.root, COLUMNS="200")
    env["LAKEHOUSE_SOURCES_DIR"] = os.environ["LAKEHOUSE_SOURCES_DIR"]  # the shop-only registry of the suite
    env["LAKEHOUSE_CATALOG"] = str(settings.catalog_path)
    if prefect_api:
        env["PREFECT_API_URL"] = prefect_api
    return env | extra


def lakehouse(
    settings: Settings, prefect_api: str | None, *args: str, timeout: float = 1800, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAKEHOUSE), *args],
        env=cli_env(settings, prefect_api, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sorted_rows(uri: str, root: str) -> pa.Table:
    """A Delta table's current rows in a canonical order (every column sorted); the lake's own root in
    `_source_file` (the landing file a raw row came from) reads `<lake>`, so two lakes compare."""
    table = DeltaTable(uri).to_pyarrow_table()
    with duckdb.connect() as con:
        con.register("t", table)
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        lineage = f"replace(_source_file, '{root}', '<lake>') as _source_file"
        select = f"* replace ({lineage})" if "_source_file" in table.column_names else "*"
        return con.sql(f"select {select} from t order by {cols}").to_arrow_table()


def rows_of_date(uri: str, column: str, day: date, where: str = "true") -> pa.Table:
    with duckdb.connect() as con:
        con.register("t", DeltaTable(uri).to_pyarrow_table())
        table = con.sql(f"select * from t where {column} = ? and {where}", params=[day]).to_arrow_table()
        con.register("d", table)
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        return con.sql(f"select * from d order by {cols}").to_arrow_table()
