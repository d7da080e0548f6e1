"""On the shop generator's data (duplicates, late payments, status changes, bad rows): the incremental
marts after several nights equal a full rebuild of the same lake, row for row (tests/dbt/test_dbt_project.py
covers a backfilled date)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from dbt_harness import DbtLake

from lakehouse.settings import Settings

MARTS = {
    "fct_orders": "order_id",
    "dim_customers": "customer_id",
    "fct_daily_revenue": "order_date",
    "dim_products": "product_id",
}
START = date(2026, 11, 20)


@pytest.mark.integration
def test_incremental_runs_equal_a_full_refresh(tmp_path) -> None:
    generator = pytest.importorskip("ingestion.shop.generator")
    loader = pytest.importorskip("ingestion.loader")
    settings = Settings(
        lakehouse_root=str(tmp_path / "lake"), lakehouse_catalog=str(tmp_path / "c" / "lakehouse.duckdb")
    )
    lake = DbtLake(settings, tmp_path)
    nights = [START + timedelta(days=n) for n in range(4)]
    for day in nights:
        generator.generate_landing(day, scale=0.2, settings=settings)
        loader.ingest_date(day, settings=settings)
        lake.dbt("build", "--vars", json.dumps({"run_date": day.isoformat()}))
    incremental = {mart: lake.read_mart(mart, key) for mart, key in MARTS.items()}

    # each night after the first merged only the rows its new batches touched, and recorded those batches
    merges = [c for c in lake.history("fct_orders") if c.get("dbt_mode") == "merge"]
    assert [c["operation"] for c in merges] == ["MERGE"] * 3
    rows = incremental["fct_orders"].num_rows
    assert all(int(c["merge_source_rows"]) < rows for c in merges)
    watermark = json.loads(merges[-1]["lakehouse_batches"])
    assert {f"shop/{entity}/{day}" for entity in ("orders", "payments") for day in nights} <= set(watermark)

    lake.dbt("run", "--full-refresh", "--select", "fct_orders+ dim_products")

    modes = [c["dbt_mode"] for c in lake.history("fct_orders") if "dbt_mode" in c]
    assert modes == ["overwrite", "merge", "merge", "merge", "overwrite"]
    for mart, key in MARTS.items():
        assert lake.read_mart(mart, key).equals(incremental[mart]), mart
