"""`lakehouse quality scan` (the typer sub-app) and the quality owner's `soda contract verify` one-liner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from shop_lake import RUN_DATE
from typer.testing import CliRunner

from lakehouse.lake import create_lake_views, duckdb_session
from lakehouse.layout import raw_table
from quality.cli import quality_app
from quality.scan import CONTRACTS_DIR, contract_files, dataset_id, lake_uri

REPO = CONTRACTS_DIR.parent.parent
SODA = Path(sys.executable).with_name("soda")


def _lakehouse(*args: str):
    """The sub-app mounted the way lakehouse/cli.py mounts it: `lakehouse quality scan ...`."""
    app = typer.Typer()
    app.add_typer(quality_app, name="quality")
    return CliRunner().invoke(app, ["quality", *args], env={"COLUMNS": "200"})


def test_scan_command_prints_results_and_passes(build_lake):
    build_lake(missing_emails=2)  # exports LAKEHOUSE_ROOT for the command
    result = _lakehouse("scan", "--date", RUN_DATE.isoformat(), "--layer", "raw")
    assert result.exit_code == 0, result.output
    assert "email is present (warn on any)" in result.output and "warned" in result.output
    assert "No blocking failures." in result.output


def test_scan_command_lists_skipped_contracts(build_lake):
    settings = build_lake()
    shutil.rmtree(raw_table("shop", "payments", settings))
    result = _lakehouse("scan", "--date", RUN_DATE.isoformat(), "--layer", "raw")
    assert result.exit_code == 0, result.output
    assert "skipped raw/shop/payments.yml: no Delta table at" in result.output
    only_crm = _lakehouse("scan", "--date", RUN_DATE.isoformat(), "--layer", "raw", "--source", "crm")
    assert only_crm.exit_code == 0, only_crm.output
    assert only_crm.output.count("is not among this run's sources (crm)") == 5


def test_scan_command_exits_1_naming_the_blocking_check(build_lake):
    build_lake(duplicate_orders_in_batch=1)
    result = _lakehouse("scan", "--date", RUN_DATE.isoformat(), "--layer", "raw")
    assert result.exit_code == 1
    assert "raw_shop.orders: check 'order_id is unique within a landing batch'" in result.output


def _catalog_like_the_pipeline(settings, catalog: Path) -> None:
    """The catalog file the pipeline keeps: views over delta_scan of every table a contract names, raw ones
    in raw_<source> (as dbt's register_delta_sources creates them), marts in main."""
    catalog.parent.mkdir(parents=True, exist_ok=True)
    with duckdb_session(str(catalog), settings=settings) as con:
        for dataset in map(dataset_id, contract_files("all")):
            create_lake_views(con, {dataset.table: lake_uri(dataset, settings)}, schema=dataset.schema)


ONE_LINER_CONTRACTS = [
    "marts/fct_orders.yml",
    "marts/fct_daily_revenue.yml",
    "raw/shop/orders.yml",
    "raw/shop/products.yml",
]


@pytest.mark.parametrize("contract", ONE_LINER_CONTRACTS)
def test_soda_cli_one_liner_against_the_catalog(build_lake, tmp_path, contract):
    """The committed datasource.yml, verbatim, from a working dir whose lake/_catalog has delta_scan views.

    No --set: freshness uses the contract's default (now), so the lake holds today's data."""
    settings = build_lake(run_date=datetime.now(UTC).date())
    workdir = tmp_path / "repo"
    (workdir / "quality").mkdir(parents=True)
    shutil.copy(REPO / "quality" / "datasource.yml", workdir / "quality" / "datasource.yml")
    _catalog_like_the_pipeline(settings, workdir / "lake" / "_catalog" / "lakehouse.duckdb")

    env = {**os.environ, "SODA_CORE_TELEMETRY_ENABLED": "false"}
    one_liner = f"contract verify -ds quality/datasource.yml -c {CONTRACTS_DIR / contract}"
    cmd = [str(SODA), *one_liner.split()]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAILED" not in proc.stdout and "NOT_EVALUATED" not in proc.stdout


def test_soda_cli_exit_code_2_on_designed_defects_and_run_end_variable(build_lake, tmp_path):
    settings = build_lake(negative_quantities=1)
    workdir = tmp_path / "repo"
    (workdir / "quality").mkdir(parents=True)
    shutil.copy(REPO / "quality" / "datasource.yml", workdir / "quality" / "datasource.yml")
    _catalog_like_the_pipeline(settings, workdir / "lake" / "_catalog" / "lakehouse.duckdb")
    env = {**os.environ, "SODA_CORE_TELEMETRY_ENABLED": "false"}
    base = [str(SODA), "contract", "verify", "-ds", "quality/datasource.yml"]

    items_cmd = [*base, "-c", str(CONTRACTS_DIR / "raw" / "shop" / "order_items.yml")]
    items = subprocess.run(items_cmd, cwd=workdir, env=env, capture_output=True)
    assert items.returncode == 2  # warned, not failed
    # a past run date: freshness against the end of that date, passed as the RUN_END variable
    run_end = f"RUN_END={RUN_DATE.isoformat()}T23:59:59+00:00"
    orders = [*base, "-c", str(CONTRACTS_DIR / "raw" / "shop" / "orders.yml"), "--set", run_end]
    proc = subprocess.run(orders, cwd=workdir, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
