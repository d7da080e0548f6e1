"""Read every Delta table of a lake, in a canonical order, to compare whole lakes between runs."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
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


def without_publish_versions(ledger: pa.Table) -> pa.Table:
    """The ledger minus what a rerun changes by design: a rerun publishes identical contents as a new Delta
    version, and its publish rows say which version and run (run_id, table_version, value, detail)."""
    publish = pc.equal(ledger.column("layer"), "publish")
    for name in ("value", "detail"):
        column = ledger.column(name)
        nulls = pa.nulls(len(ledger), column.type)
        ledger = ledger.set_column(
            ledger.schema.get_field_index(name), name, pc.if_else(publish, nulls, column)
        )
    return ledger.drop_columns(["run_id", "table_version"])


def without_monitor(ledger: pa.Table) -> pa.Table:
    """The ledger minus the monitor's rows: observations of the lake when the monitor ran (freshness hours,
    seconds per stage), which a rerun replaces with what it observes then (quality/README.md)."""
    return ledger.filter(pc.not_equal(ledger.column("layer"), "monitor"))


def snapshot(settings: Settings) -> dict[str, pa.Table]:
    out = {}
    for path in TABLES:
        table = DeltaTable(settings.uri(path), storage_options=settings.storage_options()).to_pyarrow_table()
        if path == "quality/ledger":
            table = without_publish_versions(without_monitor(table))
        out[path] = sorted_table(table)
    return out
