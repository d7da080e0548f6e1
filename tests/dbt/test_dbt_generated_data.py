"""On the shop generator's data (duplicates, late payments, status changes, bad rows): the incremental
marts after several nights equal a full rebuild of the same lake, row for row (tests/dbt/test_dbt_project.py
covers a backfilled date)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pyarrow as pa
import pytest
from dbt_harness import DbtLake

from lakehouse.lake import duckdb_session
from lakehouse.settings import Settings

MARTS = {
    "fct_orders": "order_id",
    "dim_customers": "customer_id",
    "fct_daily_revenue": "order_date",
    "dim_products": "product_id",
}
START = date(2026, 11, 20)


def assert_current_state_is_the_snapshot(lake: DbtLake, entity: str, key: str, snapshot: pa.Table) -> None:
    """int_<entity>_current (landed as snapshot changes) holds the last snapshot row for row (its values cast
    as staging casts them); its history has exactly one current version per key."""
    names = ", ".join(snapshot.column_names)
    with duckdb_session(str(lake.settings.catalog_path), lake.settings, read_only=True) as con:
        current = con.sql(f"select {names} from int_{entity}_current where not is_deleted order by {key}")
        casts = ", ".join(
            f"cast({c} as {t}) as {c}" for c, t in zip(current.columns, current.types, strict=True)
        )
        con.register("snapshot", snapshot)
        expected = con.sql(f"select {casts} from snapshot order by {key}").to_arrow_table()
        assert current.to_arrow_table().equals(expected), entity
        versions = con.sql(
            f"select count(*), count(distinct {key}) from int_{entity}_history where is_current"
        )
        assert versions.fetchone() == (snapshot.num_rows, snapshot.num_rows)


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
    last = generator.generate_day(day, scale=0.2)
    for entity, key in (("customers", "customer_id"), ("products", "product_id")):
        assert_current_state_is_the_snapshot(lake, entity, key, last[entity])

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
