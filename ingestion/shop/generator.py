"""Demo shop generator: writes one day of landing files (CSV, JSON lines, Parquet) to the lake.

Everything is a pure function of (run date, scale, seed): rerunning a day rewrites byte-identical files.
Sizes grow linearly with `scale` (1.0 = about 2,000 orders and 5,000 order lines a day). See README.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from ingestion.casting import literal
from ingestion.shop.calendar import date_array, day_index, day_rng, ts_array
from ingestion.shop.events import (
    LIFECYCLE_DAYS,
    STREAMS,
    DayOrders,
    DayPayments,
    day_lines,
    day_orders,
    day_payments,
)
from ingestion.shop.population import (
    Customers,
    Products,
    build_customers,
    build_products,
    customers_snapshot,
    products_snapshot,
)
from ingestion.shop.schema import PAYMENT_METHODS, shop_entities
from lakehouse.lake import duckdb_session
from lakehouse.layout import landing_file
from lakehouse.settings import Settings, get_settings

DUPLICATE_PAYMENT_SHARE = 0.005

DayCache = Callable[[int], DayOrders]  # day index -> the orders placed that day
COPY_FORMATS = {"csv": "FORMAT csv, HEADER true", "jsonl": "FORMAT json", "parquet": "FORMAT parquet"}


@lru_cache(maxsize=2)
def shop_population(scale: float, seed: int) -> tuple[Customers, Products]:
    """The fixed customer and product populations (cached: a backfill reuses them)."""
    return build_customers(scale, seed), build_products(seed)


def _orders_table(orders: DayOrders, status: str, mask: np.ndarray | None = None) -> pa.Table:
    """Rows of `orders` (optionally a subset) as they look after their transition to `status`."""
    keep = np.arange(orders.size) if mask is None else np.flatnonzero(mask)
    ordered_us = orders.ordered_us[keep]
    updated_us = ordered_us if status == "placed" else orders.event_us[status][keep]
    return pa.table(
        [
            pa.array(orders.order_id[keep]),
            pa.array(orders.customer_id[keep]),
            date_array(np.full(len(keep), orders.day)),
            ts_array(ordered_us),
            pa.array([status]).take(np.zeros(len(keep), dtype=np.int64)),
            ts_array(updated_us),
        ],
        schema=shop_entities()["orders"].arrow_schema,
    )


def _sorted_by(table: pa.Table, time_column: str, id_column: str) -> pa.Table:
    order = np.lexsort((table[id_column].to_numpy(), table[time_column].cast(pa.int64()).to_numpy()))
    return table.take(order)


def orders_file(days: DayCache, day: int) -> pa.Table:
    """New orders of `day` plus the status changes that happen on `day` to orders of the previous week."""
    parts = [_orders_table(days(day), "placed")]
    for placed_day in range(day - LIFECYCLE_DAYS, day):
        earlier = days(placed_day)
        for status, event_day in earlier.event_day.items():
            parts.append(_orders_table(earlier, status, event_day == day))
    return _sorted_by(pa.concat_tables(parts), "updated_at", "order_id")


def _payments_table(payments: DayPayments, day: int) -> pa.Table:
    keep = np.flatnonzero(payments.paid_day == day)
    return pa.table(
        [
            pa.array(payments.payment_id[keep]),
            pa.array(payments.order_id[keep]),
            pa.array(PAYMENT_METHODS).take(payments.method_idx[keep]),
            pa.array(payments.amount[keep]),
            ts_array(payments.paid_us[keep]),
        ],
        schema=shop_entities()["payments"].arrow_schema,
    )


def payments_file(days: DayCache, products: Products, day: int, seed: int) -> pa.Table:
    """Payments made on `day` (for that day's and late ones for yesterday's orders), with duplicates."""
    parts = []
    for placed_day in (day - 1, day):
        orders = days(placed_day)
        payments = day_payments(orders, day_lines(orders, products, seed), seed)
        parts.append(_payments_table(payments, day))
    table = _sorted_by(pa.concat_tables(parts), "paid_at", "payment_id")
    dupes = day_rng(seed, day, STREAMS["dupes"]).random(table.num_rows) < DUPLICATE_PAYMENT_SHARE
    return table.take(np.sort(np.concatenate([np.arange(table.num_rows), np.flatnonzero(dupes)])))


def order_items_file(orders: DayOrders, products: Products, seed: int) -> pa.Table:
    """The lines of the orders placed that day."""
    lines = day_lines(orders, products, seed)
    return pa.table(
        [
            pa.array(lines.order_item_id),
            pa.array(orders.order_id[lines.order_pos]),
            pa.array(lines.product_id),
            pa.array(lines.quantity),
            pa.array(lines.unit_price),
        ],
        schema=shop_entities()["order_items"].arrow_schema,
    )


def generate_tables(run_date: date, scale: float = 1.0, seed: int = 42) -> Iterator[tuple[str, pa.Table]]:
    """The landing tables of `run_date` by entity name, built one at a time (no I/O)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    customers, products = shop_population(scale, seed)
    day = day_index(run_date)
    recent = {d: day_orders(customers, d, scale, seed) for d in (day - 1, day)}

    def days(d: int) -> DayOrders:
        return recent[d] if d in recent else day_orders(customers, d, scale, seed)

    yield "customers", customers_snapshot(customers, day)
    yield "products", products_snapshot(products, day)
    yield "orders", orders_file(days, day)
    yield "order_items", order_items_file(recent[day], products, seed)
    yield "payments", payments_file(days, products, day, seed)


def generate_day(run_date: date, scale: float = 1.0, seed: int = 42) -> dict[str, pa.Table]:
    """The landing tables of `run_date` by entity name, in memory (no I/O)."""
    return dict(generate_tables(run_date, scale, seed))


def landing_uri(
    run_date: date, file_name: str, source: str = "shop", settings: Settings | None = None
) -> str:
    return landing_file(source, run_date, file_name, settings)


def generate_landing(
    run_date: date, scale: float = 1.0, seed: int = 42, settings: Settings | None = None
) -> list[str]:
    """Write the landing files of `run_date` (overwriting them) and return their URIs."""
    settings = settings or get_settings()
    uris = []
    with duckdb_session(settings=settings) as con:
        con.execute("SET TimeZone = 'UTC'")
        # One writer thread: same bytes, but an ordered parallel COPY buffers the whole file (2x peak memory).
        con.execute("SET threads = 1")
        for name, table in generate_tables(run_date, scale, seed):
            entity = shop_entities()[name]
            uri = landing_uri(run_date, entity.file_pattern, settings=settings)
            if not settings.is_s3:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            con.register("arrow_table", table)
            options = COPY_FORMATS[entity.format]
            con.execute(f"COPY (SELECT * FROM arrow_table) TO {literal(uri)} ({options})")
            con.unregister("arrow_table")
            uris.append(uri)
    return uris
