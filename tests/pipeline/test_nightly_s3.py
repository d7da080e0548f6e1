"""The whole nightly run against an S3 API: moto's HTTP server on 127.0.0.1, LAKEHOUSE_ROOT=s3://…"""

from __future__ import annotations

from datetime import date

import pytest
from deltalake import DeltaTable

pytestmark = pytest.mark.integration


def test_nightly_run_on_s3_writes_delta_tables_readable_with_deltalake(prefect_api, s3_settings):
    from orchestration.flows.nightly import lakehouse_nightly

    day = date(2026, 11, 20)
    state = lakehouse_nightly(run_date=day, scale=0.1, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary.lake_root.startswith("s3://")

    options = s3_settings.storage_options()
    orders = DeltaTable(s3_settings.uri("raw", "shop", "orders"), storage_options=options).to_pyarrow_table()
    assert orders.num_rows == next(t.rows_landed for t in summary.landed if t.entity == "orders") > 0
    fct = DeltaTable(s3_settings.uri("analytics", "fct_orders"), storage_options=options).to_pyarrow_table()
    assert fct.num_rows > 0
    assert len(set(fct.column("order_id").to_pylist())) == fct.num_rows
    features = DeltaTable(
        s3_settings.uri("features", "customer_features"), storage_options=options
    ).to_pyarrow_table()
    assert set(features.column("as_of_date").to_pylist()) == {day}
    ledger = DeltaTable(s3_settings.uri("quality", "ledger"), storage_options=options).to_pyarrow_table()
    assert {"raw", "marts"} <= set(ledger.column("layer").to_pylist())
