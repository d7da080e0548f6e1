"""Delta Lake materialization support for dbt-duckdb: the `lakehouse` plugin and its Delta writer."""

from lakehouse.dbt_delta.plugin import Plugin
from lakehouse.dbt_delta.runtime import close_dbt_duckdb

__all__ = ["Plugin", "close_dbt_duckdb"]
