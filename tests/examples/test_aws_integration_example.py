"""The AWS example flow against moto's S3 + Glue API: landing objects, raw Delta tables on S3 and their Glue
tables, a rerun that changes nothing but the Glue table versions, and the script run with no AWS at all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from ingestion.shop.generator import generate_day
from ingestion.shop.schema import shop_entities
from lakehouse.glue import DELTA_PARAMETERS
from lakehouse.settings import TELEMETRY_OFF

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
SCALE = 0.05
BUCKET, PREFIX = "aws-example-lake", "lake"
SCRIPT = Path(__file__).parents[2] / "orchestration" / "flows" / "examples" / "aws_integration_example.py"
ROOT = f"s3://{BUCKET}/{PREFIX}"


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch):
    """Test credentials in the environment; the endpoint is passed to the flow as its parameter."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    options = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1"}
    clients = {
        name: boto3.client(name, endpoint_url=moto_endpoint, region_name="us-east-1")
        for name in ("s3", "glue")
    }
    return clients, options


def _write_mart(options: dict[str, str]) -> None:
    """A dbt-like mart already in the lake, so analytics/ and decimal columns are registered too."""
    s3 = boto3.client("s3", endpoint_url=options["AWS_ENDPOINT_URL"], region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    mart = pa.table({"order_date": [DAY], "revenue": pa.array([Decimal("12.50")], pa.decimal128(18, 2))})
    write_deltalake(f"{ROOT}/analytics/fct_daily_revenue", mart, storage_options=options)


def _run(moto_endpoint: str):
    from orchestration.flows.examples.aws_integration_example import aws_integration_example

    state = aws_integration_example(
        run_date=DAY, bucket=BUCKET, prefix=PREFIX, endpoint_url=moto_endpoint, scale=SCALE, return_state=True
    )
    assert state.is_completed(), state.message
    return state.result()


def _glue_columns(glue, database: str, name: str) -> dict[str, str]:
    table = glue.get_table(DatabaseName=database, Name=name)["Table"]
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


def test_flow_lands_on_s3_and_registers_glue_tables_idempotently(prefect_api, moto_endpoint, aws_env):
    (clients, options), entities = aws_env, shop_entities()
    s3, glue = clients["s3"], clients["glue"]
    _write_mart(options)
    result = _run(moto_endpoint)

    landing = f"{PREFIX}/landing/shop/{DAY.isoformat()}/"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=landing)["Contents"]}
    assert keys == {landing + e.file_pattern for e in entities.values()}
    assert sorted(result.landing) == sorted(f"s3://{BUCKET}/{k}" for k in keys)

    expected = generate_day(DAY, SCALE)
    for name in entities:
        table = DeltaTable(f"{ROOT}/raw/shop/{name}", storage_options=options).to_pyarrow_table()
        assert table.num_rows == expected[name].num_rows > 0, name
    assert {r.uri: r.rows for r in result.raw_tables} == {
        f"{ROOT}/raw/shop/{n}": expected[n].num_rows for n in entities
    }

    databases = {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    assert {"lakehouse_raw_shop", "lakehouse_analytics"} <= databases
    tables = glue.get_tables(DatabaseName="lakehouse_raw_shop")["TableList"]
    assert sorted(t["Name"] for t in tables) == sorted(entities)
    for table in tables:
        uri = f"{ROOT}/raw/shop/{table['Name']}"
        assert table["TableType"] == "EXTERNAL_TABLE"
        assert table["StorageDescriptor"]["Location"] == uri
        assert table["Parameters"] == DELTA_PARAMETERS
        delta_names = pa.schema(DeltaTable(uri, storage_options=options).schema().to_arrow()).names
        assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == delta_names
    orders = _glue_columns(glue, "lakehouse_raw_shop", "orders")
    assert orders["order_id"] == "bigint" and orders["status"] == "string"
    assert orders["order_date"] == "date" and orders["updated_at"] == orders["_ingested_at"] == "timestamp"
    assert _glue_columns(glue, "lakehouse_raw_shop", "order_items")["quantity"] == "int"
    products = _glue_columns(glue, "lakehouse_raw_shop", "products")
    assert products["unit_price"] == "double" and products["is_active"] == "boolean"
    mart = glue.get_table(DatabaseName="lakehouse_analytics", Name="fct_daily_revenue")["Table"]
    assert mart["StorageDescriptor"]["Location"] == f"{ROOT}/analytics/fct_daily_revenue"
    assert _glue_columns(glue, "lakehouse_analytics", "fct_daily_revenue") == {
        "order_date": "date",
        "revenue": "decimal(18,2)",
    }
    assert {t.action for t in result.glue_tables} == {"created"}

    rerun = _run(moto_endpoint)
    assert [(r.uri, r.rows, r.landed) for r in rerun.raw_tables] == [
        (r.uri, r.rows, 0) for r in result.raw_tables
    ]
    for name in entities:  # no duplicate rows after the rerun
        table = DeltaTable(f"{ROOT}/raw/shop/{name}", storage_options=options).to_pyarrow_table()
        assert table.num_rows == expected[name].num_rows, name
    assert {t.action for t in rerun.glue_tables} == {"updated"}
    assert len(glue.get_tables(DatabaseName="lakehouse_raw_shop")["TableList"]) == len(entities)
    versions = glue.get_table_versions(DatabaseName="lakehouse_raw_shop", TableName="orders")["TableVersions"]
    assert len(versions) == 2


def _script_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a laptop with nothing configured: no AWS_*, LAKEHOUSE_* or PREFECT_* variables
    (and no ~/.aws files: boto3 is pointed at files that do not exist)."""
    dropped = ("AWS_", "LAKEHOUSE_", "PREFECT_", "DBT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(TELEMETRY_OFF, COLUMNS="200")
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws" / "credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws" / "config"),
    )
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        LAKEHOUSE_CATALOG=str(tmp_path / "catalog" / "lakehouse.duckdb"),
        # the temporary Prefect server can take well over its default 20 s to start on a busy machine
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    )
    return env


def test_script_help_lists_the_options(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], env=_script_env(tmp_path), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    for option in ("--date", "--bucket", "--prefix", "--region", "--endpoint-url", "--scale"):
        assert option in proc.stdout


def test_script_runs_without_aws_or_network_on_a_local_moto_server(tmp_path):
    command = [sys.executable, str(SCRIPT), "--date", DAY.isoformat(), "--scale", str(SCALE)]
    unshare = shutil.which("unshare")
    if unshare:  # cut the network too when the machine allows it (as tests/pipeline/test_offline.py does)
        command = [unshare, "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]
    proc = subprocess.run(
        command, env=_script_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert "No AWS endpoint or credentials configured: using a local S3 + Glue API (moto)" in output
    assert "s3://lakehouse-example/lakehouse/landing/shop/2026-11-20/orders.jsonl" in output
    assert "lakehouse_raw_shop.orders -> s3://lakehouse-example/lakehouse/raw/shop/orders" in output
    assert "Traceback" not in output
