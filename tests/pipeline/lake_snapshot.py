"""Read every Delta table of a lake, in a canonical order, to compare whole lakes between runs."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable

from lakehouse.settings import Settings

TABLES = [
    "raw/shop/customers",
    "raw/shop/products",
    "raw/shop/orders",
    "raw/shop/order_items",
    "raw/shop/payments",
    "analytics/fct_orders",
    "analytics/dim_customers",
    "analytics/dim_products",
    "analytics/fct_daily_revenue",
    "features/customer_features",
    "quality/ledger",
]


def sorted_table(table: pa.Table) -> pa.Table:
    keys = [f.name for f in table.schema if not pa.types.is_nested(f.type)]
    return table.sort_by([(name, "ascending") for name in keys])


def snapshot(settings: Settings) -> dict[str, pa.Table]:
    out = {}
    for path in TABLES:
        table = DeltaTable(settings.uri(path), storage_options=settings.storage_options())
        out[path] = sorted_table(table.to_pyarrow_table())
    return out
