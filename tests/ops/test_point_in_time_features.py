"""Point-in-time features: a date's features computed after later nights landed equal the ones computed on
that night, and differ from what today's state would give (later status changes are not seen)."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
from deltalake import DeltaTable

from ingestion.pipeline import land_source
from ingestion.registry import get_source
from ml.features import build_customer_features, compute_customer_features, known_by, load_features

DAY = date(2026, 11, 2)


def test_features_of_a_date_ignore_the_batches_of_later_dates(lake_settings):
    shop = get_source("shop")
    land_source(shop, DAY, lake_settings, scale=0.1)
    that_night = compute_customer_features(DAY, lake_settings)
    assert (
        that_night.num_rows > 100
        and that_night.column("frequency").to_pylist().count(0) < that_night.num_rows
    )

    for n in (1, 2, 3):  # later nights: new orders, and status changes of the first night's orders
        land_source(shop, DAY + timedelta(days=n), lake_settings, scale=0.1)
    with duckdb.connect() as con:  # the later nights brought new versions of the first night's orders
        uri = lake_settings.uri("raw", "shop", "orders")
        con.register("orders", DeltaTable(uri).to_pyarrow_table())
        (late_versions,) = con.execute(
            "select count(*) from orders where order_date <= ? and _ingested_at > ?", [DAY, known_by(DAY)]
        ).fetchone() or (0,)
    assert late_versions > 0
    assert compute_customer_features(DAY, lake_settings).equals(that_night)

    later = compute_customer_features(DAY + timedelta(days=3), lake_settings)
    with duckdb.connect() as con:
        con.register("later", later)
        con.register("night", that_night)
        changed = con.sql(
            "select count(*) from (select * exclude (as_of_date, recency_days, tenure_days) from later "
            "except select * exclude (as_of_date, recency_days, tenure_days) from night)"
        ).fetchone()
    assert changed is not None and changed[0] > 0  # the later nights did change what is known

    build_customer_features(DAY, lake_settings)
    assert load_features(DAY, lake_settings).equals(that_night)
