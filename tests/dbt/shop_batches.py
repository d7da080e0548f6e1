"""Two tiny, hand-checked daily batches of the demo shop, written as raw Delta tables like ingestion does.

Day 1 (2024-03-01): orders 100-103; order 101 is not paid yet; payment 5000 is delivered twice; order 103 has
a negative quantity line; customer 2 has no email.
Day 2 (2024-03-02): order 100 ships (new version), order 101 gets a late payment, new order 104, payment 5000
is re-delivered once more, customer 1 changes email.
Backfill (2024-02-29, loaded last): order 99 of customer 2, paid. Its _ingested_at (2024-03-01) is older than
everything loaded before, as with ingestion.loader, whose _ingested_at is the end of the logical date.

Batch ids and _ingested_at follow ingestion.loader: `shop/<entity>/<date>`, midnight UTC after the date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from ingestion.shop.schema import shop_entities
from lakehouse.lake import append_batch
from lakehouse.settings import Settings


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


DAY1 = date(2024, 3, 1)
DAY2 = date(2024, 3, 2)
BACKFILL = date(2024, 2, 29)

BATCHES: dict[date, dict[str, list[tuple[Any, ...]]]] = {
    DAY1: {
        "customers": [
            (1, "Ada", "Lovelace", "ada@example.com", "GB", date(2024, 1, 5), ts("2024-01-05T10:00")),
            (2, "Bob", "Builder", None, "DE", date(2024, 2, 1), ts("2024-02-01T09:00")),
            (3, "Cy", "Young", "cy@example.com", "US", date(2024, 2, 20), ts("2024-02-20T12:00")),
        ],
        "products": [
            (10, "Widget", "tools", 5.0, True, ts("2024-01-01T00:00")),
            (11, "Gadget", "toys", 12.5, True, ts("2024-01-01T00:00")),
        ],
        "orders": [
            (100, 1, DAY1, ts("2024-03-01T08:00"), "placed", ts("2024-03-01T08:00")),
            (101, 2, DAY1, ts("2024-03-01T09:30"), "placed", ts("2024-03-01T09:30")),
            (102, 3, DAY1, ts("2024-03-01T11:00"), "placed", ts("2024-03-01T11:00")),
            (102, 3, DAY1, ts("2024-03-01T11:00"), "cancelled", ts("2024-03-01T15:00")),
            (103, 1, DAY1, ts("2024-03-01T18:00"), "placed", ts("2024-03-01T18:00")),
        ],
        "order_items": [
            (1000, 100, 10, 2, 5.0),
            (1001, 100, 11, 1, 12.5),
            (1002, 101, 10, 1, 5.0),
            (1003, 102, 11, 2, 12.5),
            (1004, 103, 10, -1, 5.0),
            (1005, 103, 11, 1, 12.5),
        ],
        "payments": [
            (5000, 100, "card", 22.5, ts("2024-03-01T08:01")),
            (5000, 100, "card", 22.5, ts("2024-03-01T08:01")),
            (5002, 103, "gift_card", 7.5, ts("2024-03-01T18:05")),
        ],
    },
    DAY2: {
        "customers": [
            (1, "Ada", "Lovelace", "ada@lovelace.dev", "GB", date(2024, 1, 5), ts("2024-03-02T07:00")),
        ],
        "products": [],
        "orders": [
            (100, 1, DAY1, ts("2024-03-01T08:00"), "shipped", ts("2024-03-02T06:00")),
            (104, 3, DAY2, ts("2024-03-02T10:00"), "placed", ts("2024-03-02T10:00")),
        ],
        "order_items": [
            (1006, 104, 10, 3, 5.0),
        ],
        "payments": [
            (5003, 101, "paypal", 5.0, ts("2024-03-02T00:30")),
            (5004, 104, "card", 15.0, ts("2024-03-02T10:02")),
            (5000, 100, "card", 22.5, ts("2024-03-01T08:01")),
        ],
    },
}

BATCHES[BACKFILL] = {
    "customers": [],
    "products": [],
    "orders": [(99, 2, BACKFILL, ts("2024-02-29T20:00"), "delivered", ts("2024-02-29T23:00"))],
    "order_items": [(999, 99, 11, 4, 12.5)],
    "payments": [(4999, 99, "card", 50.0, ts("2024-02-29T20:01"))],
}

# What fct_orders must hold: order_id -> (status, item_count, total_quantity, order_amount, amount_paid,
# is_paid).
EXPECTED_ORDERS_AFTER_DAY1 = {
    100: ("placed", 2, 3, 22.5, 22.5, True),
    101: ("placed", 1, 1, 5.0, 0.0, False),
    102: ("cancelled", 1, 2, 25.0, 0.0, False),
    103: ("placed", 2, 0, 7.5, 7.5, True),
}
EXPECTED_ORDERS_AFTER_DAY2 = {
    100: ("shipped", 2, 3, 22.5, 22.5, True),
    101: ("placed", 1, 1, 5.0, 5.0, True),
    102: ("cancelled", 1, 2, 25.0, 0.0, False),
    103: ("placed", 2, 0, 7.5, 7.5, True),
    104: ("placed", 1, 3, 15.0, 15.0, True),
}
EXPECTED_ORDERS_AFTER_BACKFILL = {99: ("delivered", 1, 4, 50.0, 50.0, True), **EXPECTED_ORDERS_AFTER_DAY2}


def batch_id(entity: str, run_date: date) -> str:
    return f"shop/{entity}/{run_date.isoformat()}"


def ingested_at(run_date: date) -> datetime:
    return datetime(run_date.year, run_date.month, run_date.day, tzinfo=UTC) + timedelta(days=1)


def entity_table(entity: str, rows: list[tuple[Any, ...]], run_date: date) -> pa.Table:
    spec = shop_entities()[entity]
    schema = spec.raw_schema
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in spec.arrow_schema]
    n = len(rows)
    lineage = [
        [batch_id(entity, run_date)] * n,
        [ingested_at(run_date)] * n,
        [f"landing/shop/{run_date.isoformat()}/{spec.file_pattern}"] * n,
    ]
    if spec.is_snapshot:  # customers and products land as changes: day 1 inserts, later days updates
        lineage.append(["insert" if run_date == DAY1 else "update"] * n)
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip([*columns, *lineage], schema, strict=True)], schema=schema
    )


def load_batch(run_date: date, settings: Settings) -> None:
    """Append one day's batch to every raw table, exactly once per (entity, batch)."""
    for entity, rows in BATCHES[run_date].items():
        uri = settings.uri("raw", "shop", entity)
        if rows:
            append_batch(uri, entity_table(entity, rows, run_date), batch_id(entity, run_date), settings)
