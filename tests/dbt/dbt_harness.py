"""Helpers to run the dbt project against tiny lakes: a `dbt` subprocess per command, like an analyst."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lakehouse.lake import duckdb_session, open_table
from lakehouse.settings import DBT_PROJECT_DIR, TELEMETRY_OFF, Settings

DBT = Path(sys.executable).with_name("dbt")
AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ALLOW_HTTP")


@dataclass
class DbtLake:
    """A lake + catalog + dbt target folder, and how to run dbt against them."""

    settings: Settings
    work_dir: Path
    project_dir: Path = DBT_PROJECT_DIR

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "DBT_"))}
        env.update(TELEMETRY_OFF)
        env.update(
            LAKEHOUSE_ROOT=self.settings.root,
            LAKEHOUSE_CATALOG=str(self.settings.catalog_path),
            DBT_TARGET_PATH=str(self.work_dir / "target"),
            DBT_LOG_PATH=str(self.work_dir / "logs"),
        )
        env.update(self.settings.storage_options())
        return env

    def dbt(self, *args: str, ok: bool = True) -> str:
        """Run `dbt <args>` on the project; fail the test with dbt's output unless it exits 0 (`ok`) or
        non-zero (not `ok`)."""
        project = str(self.project_dir)
        cmd = [str(DBT), *args, "--project-dir", project, "--profiles-dir", project]
        proc = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=600)
        output = proc.stdout + proc.stderr
        assert (proc.returncode == 0) == ok, (
            f"`dbt {' '.join(args)}` exited {proc.returncode}:\n{output[-6000:]}"
        )
        return output

    def mart_uri(self, name: str) -> str:
        return self.settings.uri("analytics", name)

    def history(self, name: str) -> list[dict]:
        """The table's commitInfo entries, oldest first."""
        if self.settings.is_s3:
            return _s3_history(self.mart_uri(name), self.settings)
        table = open_table(self.mart_uri(name), self.settings)
        assert table is not None, f"no Delta table at {self.mart_uri(name)}"
        return list(reversed(table.history()))

    def read_mart(self, name: str, sort_by: str) -> pa.Table:
        table = open_table(self.mart_uri(name), self.settings)
        assert table is not None, f"no Delta table at {self.mart_uri(name)}"
        return table.to_pyarrow_table().sort_by(sort_by)

    def catalog_views(self) -> dict[str, str]:
        """`schema.view` -> SQL of every view in the DuckDB catalog dbt built."""
        with duckdb_session(str(self.settings.catalog_path), self.settings, read_only=True) as con:
            rows = con.sql(
                "select schema_name, view_name, sql from duckdb_views() where not internal"
            ).fetchall()
        return {f"{schema}.{view}": sql for schema, view, sql in rows}


def _s3_history(uri: str, settings: Settings) -> list[dict]:
    """Read commitInfo from the Delta log with boto3: DeltaTable.history() holds the GIL while it lists S3,
    which deadlocks against moto's server thread in this same process."""
    import boto3

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_delta_log/")
    commits = []
    for key in sorted(o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(".json")):
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                commits.append(action["commitInfo"])
    return commits


def orders_by_id(table: pa.Table) -> dict[int, tuple]:
    """fct_orders as order_id -> (status, item_count, total_quantity, order_amount, amount_paid, is_paid)."""
    return {
        row["order_id"]: (
            row["status"],
            row["item_count"],
            row["total_quantity"],
            float(row["order_amount"]),
            float(row["amount_paid"]),
            row["is_paid"],
        )
        for row in table.to_pylist()
    }
