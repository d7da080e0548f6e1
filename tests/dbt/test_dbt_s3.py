"""The dbt project on an S3 lake (moto): raw and marts are Delta tables, merged incrementally."""

from __future__ import annotations

import pytest
from dbt_harness import DbtLake, orders_by_id
from shop_batches import DAY1, DAY2, EXPECTED_ORDERS_AFTER_DAY2, load_batch

from lakehouse.settings import Settings


@pytest.mark.integration
def test_build_on_s3_lake(s3_settings: Settings, tmp_path) -> None:
    lake = DbtLake(s3_settings, tmp_path)
    load_batch(DAY1, s3_settings)
    lake.dbt("build")
    load_batch(DAY2, s3_settings)
    lake.dbt("build", "--select", "+fct_orders")

    modes = [commit["dbt_mode"] for commit in lake.history("fct_orders") if "dbt_mode" in commit]
    assert modes == ["overwrite", "merge"]
    assert orders_by_id(lake.read_mart("fct_orders", "order_id")) == EXPECTED_ORDERS_AFTER_DAY2
    uri = s3_settings.uri("analytics", "fct_orders")
    assert uri.startswith("s3://")
    assert f"delta_scan('{uri}', " in lake.catalog_views()["main.fct_orders"]  # pinned to a version
