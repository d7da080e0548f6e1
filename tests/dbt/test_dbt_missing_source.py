"""A dbt source whose raw Delta table has not landed yet does not break the build of the others.

register_delta_sources logs and skips it; `lakehouse run` (lakehouse.transform) excludes the models reading
it with `--exclude source:<source>.<table>+` and reports it in DbtSummary.skipped_sources.
"""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from dbt_harness import DbtLake
from shop_batches import DAY1, load_batch

from lakehouse.layout import raw_table
from lakehouse.settings import Settings
from lakehouse.transform import (
    dbt_build_args,
    dbt_run_env,
    dbt_run_vars,
    delta_source_paths,
    missing_delta_sources,
)

SHOP_TABLES = ("customers", "products", "orders", "order_items", "payments")
# the models that read raw payments (directly or through other models), and some that do not
READS_PAYMENTS = {
    "stg_shop__payments",
    "int_payments_deduplicated",
    "fct_orders",
    "dim_customers",
    "fct_daily_revenue",
}
INDEPENDENT_OF_PAYMENTS = {"stg_shop__orders", "stg_shop__products", "dim_products", "int_customers_current"}


def _lake_without_payments(root) -> Settings:
    settings = Settings(
        lakehouse_root=str(root / "lake"), lakehouse_catalog=str(root / "catalog" / "lakehouse.duckdb")
    )
    load_batch(DAY1, settings)
    shutil.rmtree(raw_table("shop", "payments", settings))
    return settings


def test_delta_sources_are_read_from_dbts_source_definitions() -> None:
    assert delta_source_paths() == {f"shop.{t}": f"raw/shop/{t}" for t in SHOP_TABLES}


def test_missing_delta_sources_lists_the_tables_not_in_the_lake(tmp_path) -> None:
    empty = Settings(lakehouse_root=str(tmp_path / "empty"))
    assert set(missing_delta_sources(empty)) == {f"shop.{t}" for t in SHOP_TABLES}
    settings = _lake_without_payments(tmp_path)
    assert missing_delta_sources(settings) == {"shop.payments": raw_table("shop", "payments", settings)}


def test_build_args_exclude_skipped_sources_and_keep_the_users_select() -> None:
    args = dbt_build_args(date(2024, 3, 1), select="tag:daily fct_orders+", skip_sources=["shop.payments"])
    assert args == [
        "build",
        "--vars",
        json.dumps({"run_date": "2024-03-01"}),
        "--select",
        "tag:daily fct_orders+",
        "--exclude",
        "source:shop.payments+",
    ]
    assert "--exclude" not in dbt_build_args(date(2024, 3, 1))


def test_the_pipeline_passes_the_runs_values_in_the_environment_not_as_vars() -> None:
    # a change of --vars makes dbt parse the whole project again; these env vars are read only at execution
    assert dbt_build_args(date(2024, 3, 1), run_id="r1", vars_in_env=True) == ["build"]
    assert dbt_run_env(dbt_run_vars(date(2024, 3, 1), run_id="r1")) == {
        "LAKEHOUSE_DBT_RUN_DATE": "2024-03-01",
        "LAKEHOUSE_DBT_WAP_RUN_ID": "r1",
        "LAKEHOUSE_DBT_WAP_PUBLISH": "false",
    }


def test_plain_dbt_skips_the_missing_source_and_builds_the_rest(tmp_path) -> None:
    settings = _lake_without_payments(tmp_path)
    lake = DbtLake(settings, tmp_path)
    output = lake.dbt("build", "--exclude", "source:shop.payments+")
    location = raw_table("shop", "payments", settings)
    assert f"Source shop.payments: no Delta table at {location} yet — skipped" in output
    views = lake.catalog_views()
    assert {"raw_shop.orders", "main.dim_products", "main.stg_shop__orders"} <= set(views)
    assert "raw_shop.payments" not in views and "main.fct_orders" not in views


@pytest.mark.integration
def test_run_dbt_build_excludes_models_reading_a_missing_raw_table(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline's path (dbt in-process, as the transform flow runs it), with raw/shop/payments deleted."""
    from lakehouse.transform import run_dbt_build

    settings = _lake_without_payments(tmp_path)
    monkeypatch.setenv("LAKEHOUSE_ROOT", settings.root)
    monkeypatch.setenv("LAKEHOUSE_CATALOG", str(settings.catalog_path))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))

    summary = run_dbt_build(DAY1)

    assert summary.ok and summary.skipped_sources == ["shop.payments"]
    assert "dbt: source shop.payments has no Delta table at" in capsys.readouterr().out
    views = DbtLake(settings, tmp_path).catalog_views()
    assert {f"main.{m}" for m in INDEPENDENT_OF_PAYMENTS} <= set(views)
    assert not {f"main.{m}" for m in READS_PAYMENTS} & set(views)
    assert summary.models_built == len([v for v in views if v.startswith("main.")])
