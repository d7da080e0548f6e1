"""Helpers for running dbt in-process (lakehouse.transform.invoke_dbt, tests)."""

from __future__ import annotations


def close_dbt_duckdb() -> None:
    """Close the DuckDB catalog connection dbt-duckdb keeps open in this process after a dbt invocation.

    Call it after an in-process `dbt build` before opening the catalog file with another configuration
    (e.g. read_only for Soda), and before the process exits: DuckDB + deltalake in one process can abort at
    exit when a DuckDB connection is still open.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        env.close()
