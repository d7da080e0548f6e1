"""The dbt project end to end on a tiny local lake: Delta marts, incremental merge, reruns, full refresh.

One module-scoped lake goes through the life of the pipeline (day 1, day 2, a rerun, a backfill, a full
refresh); each test checks one property of the recorded stages. Every stage is one `dbt` subprocess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest
from dbt_harness import DbtLake, orders_by_id
from shop_batches import (
    BACKFILL,
    DAY1,
    DAY2,
    EXPECTED_ORDERS_AFTER_BACKFILL,
    EXPECTED_ORDERS_AFTER_DAY1,
    EXPECTED_ORDERS_AFTER_DAY2,
    load_batch,
)

from lakehouse.settings import Settings

MARTS = {
    "fct_orders": "order_id",
    "dim_customers": "customer_id",
    "dim_products": "product_id",
    "fct_daily_revenue": "order_date",
}


@dataclass
class Stage:
    marts: dict[str, pa.Table]
    history: list[dict]  # fct_orders, oldest commit first
    output: str


@dataclass
class LakeLife:
    lake: DbtLake
    stages: dict[str, Stage] = field(default_factory=dict)

    def build(self, name: str, *args: str) -> None:
        output = self.lake.dbt("build", *args)
        marts = {mart: self.lake.read_mart(mart, key) for mart, key in MARTS.items()}
        self.stages[name] = Stage(marts, self.lake.history("fct_orders"), output)


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> LakeLife:
    work = tmp_path_factory.mktemp("dbt_local")
    settings = Settings(
        lakehouse_root=str(work / "lake"), lakehouse_catalog=str(work / "catalog" / "lakehouse.duckdb")
    )
    life = LakeLife(DbtLake(settings, work))
    load_batch(DAY1, settings)
    life.build("day1", "--vars", json.dumps({"run_date": DAY1.isoformat()}))
    load_batch(DAY2, settings)
    life.build("day2", "--vars", json.dumps({"run_date": DAY2.isoformat()}))
    life.build("rerun", "--vars", json.dumps({"run_date": DAY2.isoformat()}))
    load_batch(BACKFILL, settings)
    life.build("backfill", "--vars", json.dumps({"run_date": BACKFILL.isoformat()}))
    life.build("full_refresh", "--full-refresh")
    return life


def published(history: list[dict]) -> list[dict]:
    """The commits that published a dbt build's candidate (not the table's creation)."""
    return [commit for commit in history if "dbt_mode" in commit]


def modes(history: list[dict]) -> list[str]:
    return [commit["dbt_mode"] for commit in published(history)]


def test_marts_are_delta_tables_written_by_dbt(life: LakeLife) -> None:
    for mart in MARTS:
        last = life.lake.history(mart)[-1]
        assert last["operation"] == "WRITE", mart
        assert last["dbt_model"] == f"model.lakehouse.{mart}"
        assert last["lakehouse_wap_run"], mart  # published by write-audit-publish
    assert published(life.stages["day1"].history)[0]["operationParameters"]["mode"] == "Overwrite"


def test_day1_contents(life: LakeLife) -> None:
    assert orders_by_id(life.stages["day1"].marts["fct_orders"]) == EXPECTED_ORDERS_AFTER_DAY1


def test_day2_merges_status_change_late_payment_and_new_order(life: LakeLife) -> None:
    stage = life.stages["day2"]
    assert modes(stage.history) == ["overwrite", "merge"]
    metrics = stage.history[-1]
    # only touched orders are recomputed: 100 (status, payment re-delivery), 101 (late payment), 104 (new)
    assert metrics["merge_source_rows"] == "3"
    assert (metrics["merge_updated_rows"], metrics["merge_inserted_rows"]) == ("2", "1")
    assert orders_by_id(stage.marts["fct_orders"]) == EXPECTED_ORDERS_AFTER_DAY2
    # published by a MERGE of the changed rows only, with the batches it covers as its watermark
    assert metrics["operation"] == "MERGE"
    assert metrics["operationMetrics"]["num_source_rows"] == 3
    batches = json.loads(metrics["lakehouse_batches"])
    assert {f"shop/{entity}/{DAY2.isoformat()}" for entity in ("orders", "payments")} <= set(batches)
    assert batches == sorted(set(batches))


def test_rerun_leaves_identical_contents(life: LakeLife) -> None:
    day2, rerun = life.stages["day2"], life.stages["rerun"]
    # no batch is new: the merge source is empty, so no candidate is written and nothing is committed
    assert len(rerun.history) == len(day2.history)
    for mart in MARTS:
        assert rerun.marts[mart].equals(day2.marts[mart]), mart


def test_backfilled_date_with_older_ingested_at_is_merged(life: LakeLife) -> None:
    stage = life.stages["backfill"]
    assert modes(stage.history)[-1] == "merge"
    assert stage.history[-1]["merge_source_rows"] == "1"
    assert orders_by_id(stage.marts["fct_orders"]) == EXPECTED_ORDERS_AFTER_BACKFILL


def test_full_refresh_overwrites_with_the_same_contents(life: LakeLife) -> None:
    backfill, full = life.stages["backfill"], life.stages["full_refresh"]
    last = full.history[-1]
    assert (last["operation"], last["operationParameters"]["mode"]) == ("WRITE", "Overwrite")
    assert last["dbt_mode"] == "overwrite"
    for mart in MARTS:
        assert full.marts[mart].equals(backfill.marts[mart]), mart


def test_dim_customers_and_daily_revenue(life: LakeLife) -> None:
    customers = {r["customer_id"]: r for r in life.stages["day2"].marts["dim_customers"].to_pylist()}
    assert customers[1]["email"] == "ada@lovelace.dev"  # the latest version
    assert (customers[1]["lifetime_orders"], float(customers[1]["lifetime_value"])) == (2, 30.0)
    assert customers[3]["lifetime_orders"] == 1  # the cancelled order does not count
    revenue = life.stages["day2"].marts["fct_daily_revenue"].to_pylist()
    assert [
        (
            str(r["order_date"]),
            r["order_count"],
            float(r["gross_revenue"]),
            float(r["paid_revenue"]),
            r["cancelled_orders"],
        )
        for r in revenue
    ] == [
        ("2024-03-01", 4, 35.0, 35.0, 1),
        ("2024-03-02", 1, 15.0, 15.0, 0),
    ]


def test_catalog_views_read_delta(life: LakeLife) -> None:
    views = life.lake.catalog_views()
    for mart in MARTS:
        assert f"delta_scan('{life.lake.mart_uri(mart)}', " in views[f"main.{mart}"]  # pinned to a version
    raw_orders = life.lake.settings.uri("raw", "shop", "orders")
    assert f"delta_scan('{raw_orders}')" in views["raw_shop.orders"]
    assert "raw_shop.orders" in views["main.stg_shop__orders"]


def test_dbt_tests_and_unit_tests_ran(life: LakeLife) -> None:
    output = life.stages["day1"].output
    assert "unique_fct_orders_order_id" in output
    assert "relationships_fct_orders_customer_id" in output
    assert "unit_test" in output
    assert " ERROR=0 " in output


def test_docs_generate(life: LakeLife) -> None:
    life.lake.dbt("docs", "generate")
    catalog = json.loads((life.lake.work_dir / "target" / "catalog.json").read_text())
    columns = catalog["nodes"]["model.lakehouse.fct_orders"]["columns"]
    assert {"order_id", "order_amount", "amount_paid", "is_paid", "_source_ingested_at"} <= set(columns)


def test_the_catalog_defaults_to_the_lake(tmp_path: Path) -> None:
    """Without LAKEHOUSE_CATALOG the plugin uses <lake>/_catalog/lakehouse.duckdb, like lakehouse.settings."""
    from types import SimpleNamespace

    from lakehouse.dbt_delta import Plugin

    plugin = Plugin("lakehouse", {"lakehouse_root": str(tmp_path / "lake")})
    creds = SimpleNamespace(database="lakehouse", path="lakehouse.duckdb")
    creds.path_derived_database_name = lambda path: Path(path).stem
    plugin.update_connection_config(creds, {})
    assert creds.path == str(tmp_path / "lake" / "_catalog" / "lakehouse.duckdb")
