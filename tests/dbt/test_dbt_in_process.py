"""The pipeline's way of running dbt: in-process (lakehouse.transform.invoke_dbt), twice with different lakes.

Two full dbt builds in one process take a while, hence the integration mark.
"""

from __future__ import annotations

import pytest
from dbt_harness import orders_by_id
from shop_batches import DAY1, EXPECTED_ORDERS_AFTER_DAY1, load_batch

from lakehouse.dbt_delta import close_dbt_duckdb
from lakehouse.lake import read_table
from lakehouse.settings import Settings
from lakehouse.transform import invoke_dbt


@pytest.mark.integration
def test_in_process_builds_follow_lakehouse_root(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    monkeypatch.delenv("LAKEHOUSE_CATALOG", raising=False)
    lakes = []
    try:
        for name in ("a", "b"):
            monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / name))
            settings = Settings()
            load_batch(DAY1, settings)
            result = invoke_dbt(["build", "--vars", '{"run_date": "2024-03-01"}'])
            assert result.success, result.exception
            lakes.append(settings)
    finally:
        close_dbt_duckdb()
    for settings in lakes:
        fct_orders = read_table(settings.uri("analytics", "fct_orders"), settings).sort_by("order_id")
        assert orders_by_id(fct_orders) == EXPECTED_ORDERS_AFTER_DAY1
        assert settings.catalog_path == settings.catalog_path.parents[1] / "_catalog" / "lakehouse.duckdb"
        assert settings.catalog_path.exists()
