"""dbt-duckdb plugin of the lakehouse: offline extensions, S3 from lakehouse.settings, Delta writes.

Configured in dbt_project/profiles.yml:

    plugins:
      - module: lakehouse.dbt_delta
        alias: lakehouse
        config: {lakehouse_root: "...", lakehouse_catalog: "...", require_s3: false}

- `update_connection_config` (before duckdb.connect): points the profile's `path` at the catalog file that
  lakehouse.settings resolves (<lake>/_catalog/lakehouse.duckdb for a local lake), creates its folder and
  turns DuckDB's network auto-install off.
- `configure_connection`: installs and loads httpfs + delta from their pip wheels and creates the S3 secret
  (lakehouse.lake.prepare_connection).
- `configure_cursor`: sets the DuckDB variable `lakehouse_root` on every dbt cursor; the project's macros
  read it (`lakehouse_root()`), so dbt and Python agree on one lake root.
- `store`: called by the `delta` materialization; streams the model's query as Arrow into a
  write-audit-publish candidate (lakehouse/wap.py); called from on-run-end to publish or withhold the
  build's candidates.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import TargetConfig, escape_sql_string
from dbt.adapters.events.logging import AdapterLogger
from duckdb.func import FunctionNullHandling

from lakehouse.dbt_delta.writer import WRITE_MODES, write_model_candidate
from lakehouse.lake import column_values_from_stats, prepare_connection
from lakehouse.settings import Settings
from lakehouse.wap import Candidate, publish_run, withhold_run

logger = AdapterLogger("lakehouse")


class Plugin(BasePlugin):
    """The `lakehouse` plugin; one instance per dbt-duckdb environment (i.e. per catalog connection)."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self._settings = self._read_settings(plugin_config)
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _read_settings(plugin_config: dict[str, Any]) -> Settings:
        """lakehouse.settings, with non-empty `lakehouse_root`/`lakehouse_catalog` from the profile on top."""
        overrides: dict[str, Any] = {
            key: str(plugin_config[key])
            for key in ("lakehouse_root", "lakehouse_catalog")
            if plugin_config.get(key)
        }
        settings = Settings(**overrides)
        if plugin_config.get("require_s3") and not settings.is_s3:
            raise RuntimeError(
                f"This dbt target needs an S3 lake, but LAKEHOUSE_ROOT is {settings.root!r}: "
                "set LAKEHOUSE_ROOT=s3://bucket/prefix (and the AWS_* variables)."
            )
        return settings

    @property
    def settings(self) -> Settings:
        return self._settings

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        catalog = self._settings.catalog_path
        expected = creds.path_derived_database_name(str(catalog))
        if expected != creds.database:
            raise RuntimeError(
                f"The DuckDB catalog {catalog} would be named {expected!r}, but dbt's profile names it "
                f"{creds.database!r}: export LAKEHOUSE_CATALOG so profiles.yml sees the same file."
            )
        catalog.parent.mkdir(parents=True, exist_ok=True)
        creds.path = str(catalog)
        config.setdefault("autoinstall_known_extensions", False)
        config.setdefault("autoload_known_extensions", True)

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        prepare_connection(conn, self._settings)
        conn.create_function(
            "lakehouse_batch_ids",
            self._batch_ids,
            [duckdb.sqltype("VARCHAR")],
            duckdb.list_type(duckdb.sqltype("VARCHAR")),
            side_effects=True,  # the table changes between calls
            null_handling=FunctionNullHandling.SPECIAL,  # NULL: the statistics cannot tell
        )
        self._conn = conn

    def _batch_ids(self, uri: str) -> list[str] | None:
        """SQL `lakehouse_batch_ids(uri)`: the `_batch_id`s of a raw Delta table from its log's statistics
        (NULL when they cannot tell; macros/watermark.sql then scans the table)."""
        return column_values_from_stats(uri, "_batch_id", self._settings)

    def configure_cursor(self, cursor: Any) -> None:
        cursor.execute("SET VARIABLE lakehouse_root = ?", [self._settings.root])

    def store(self, target_config: TargetConfig) -> None:
        options = dict(target_config.config)
        if target_config.location and target_config.location.format == "wap":
            self._decide(options)
            return
        location = target_config.location.path if target_config.location else ""
        mode = options.get("mode", "overwrite")
        if not location or mode not in WRITE_MODES:
            raise ValueError(
                f"delta store of {target_config.relation}: bad location/mode {location!r}/{mode!r}"
            )
        cursor = self._cursor()
        try:
            candidate = write_model_candidate(
                cursor,
                options["sql"],
                Candidate(
                    model=str(options["model"]),
                    schema=str(options["schema"]),
                    location=location,
                    run_id=str(options["run_id"]),
                    mode="overwrite",
                    base_version=None,
                    partition_by=tuple(_as_list(options.get("partition_by"))),
                    commit_metadata={k: str(v) for k, v in (options.get("commit_metadata") or {}).items()},
                ),
                mode,
                unique_key=_as_list(options.get("unique_key")),
                settings=self._settings,
            )
        finally:
            cursor.close()
        if candidate is None:
            logger.info(f"delta {mode} of {target_config.relation}: no rows to merge, nothing changes")
            return
        logger.info(
            f"delta {mode} of {target_config.relation}: candidate {candidate.uri} "
            f"({candidate.rows} rows, publishes as {candidate.mode} on version {candidate.base_version})"
        )

    def _decide(self, options: dict[str, Any]) -> None:
        """on-run-end of a plain `dbt build` (macros/wap.sql): publish or withhold the build's candidates."""
        run_id, run_date = str(options["run_id"]), options.get("run_date")
        if options.get("action") == "publish":
            cursor = self._cursor()
            try:
                published = publish_run(run_id, run_date, con=cursor, settings=self._settings)
            finally:
                cursor.close()
            logger.info("published " + ", ".join(f"{p.model} v{p.version}" for p in published))
        else:
            withhold_run(run_id, run_date, list(options.get("failures") or []), settings=self._settings)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on dbt's catalog connection, with the profile's settings (e.g. TimeZone) applied."""
        if self._conn is None:
            raise RuntimeError("lakehouse plugin: the DuckDB connection is not open yet")
        with self._lock:
            cursor = self._conn.cursor()
        for key, value in (self.creds.settings or {}).items() if self.creds else []:
            cursor.execute(f"SET {key} = '{escape_sql_string(value)}'")
        return cursor


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]
