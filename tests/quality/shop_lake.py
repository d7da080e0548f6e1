"""A tiny shop lake for the quality tests: raw Delta tables (two landing batches) and the three marts,
with the designed source defects switchable on."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa

from ingestion.batches import batch_id
from ingestion.shop.schema import ORDER_STATUSES, PAYMENT_METHODS, shop_entities
from lakehouse.lake import append_batch, create_lake_views, duckdb_session
from lakehouse.settings import Settings

RUN_DATE = date(2026, 11, 26)


@dataclass(frozen=True)
class Defects:
    missing_emails: int = 0  # of 200 customers per batch (2 = 1%)
    duplicate_payments: int = 0  # payment events delivered twice (1 of ~200 = 0.5%)
    negative_quantities: int = 0  # of ~400 items per batch (1 = 0.25%)
    duplicate_orders_in_batch: int = 0  # a corrupted landing batch repeats order ids


def _ts(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=rng.randrange(86_400))


def _batch(day: date, first_day: date, defects: Defects) -> dict[str, list[dict]]:
    """One day's landing batch of all five entities; customers and products as full snapshots."""
    rng = random.Random(day.toordinal())
    start = datetime.combine(first_day, time(), tzinfo=UTC)
    customers = [
        {"customer_id": i, "first_name": f"F{i}", "last_name": f"L{i}", "email": f"c{i}@example.com",
         "country": "NL", "signup_date": first_day - timedelta(days=i), "updated_at": start}
        for i in range(1, 201)
    ]  # fmt: skip
    for c in customers[: defects.missing_emails]:
        c["email"] = None
    products = [
        {"product_id": i, "product_name": f"P{i}", "category": "toys", "unit_price": 1.5 * i,
         "is_active": True, "updated_at": start}
        for i in range(1, 21)
    ]  # fmt: skip
    base = 1000 * (day - first_day).days
    orders, items, payments = [], [], []
    for n in range(200):
        order_id = base + n + 1
        at = _ts(day, rng)
        status = ORDER_STATUSES[n % len(ORDER_STATUSES)]
        orders.append({"order_id": order_id, "customer_id": rng.randint(1, 200), "order_date": day,
                       "ordered_at": at, "status": status, "updated_at": at})  # fmt: skip
        for k in range(2):
            product = rng.randint(1, 20)
            items.append({"order_item_id": order_id * 10 + k, "order_id": order_id, "product_id": product,
                          "quantity": rng.randint(1, 3), "unit_price": 1.5 * product})  # fmt: skip
        if status != "cancelled":
            amount = sum(i["quantity"] * i["unit_price"] for i in items[-2:])
            payments.append({"payment_id": order_id, "order_id": order_id, "amount": amount,
                             "payment_method": PAYMENT_METHODS[n % 4], "paid_at": at})  # fmt: skip
    for item in items[: defects.negative_quantities]:
        item["quantity"] = -item["quantity"]
    payments += payments[: defects.duplicate_payments]
    orders += [dict(o) for o in orders[: defects.duplicate_orders_in_batch]]
    return {"customers": customers, "products": products, "orders": orders, "order_items": items,
            "payments": payments}  # fmt: skip


def snapshot_changes(rows: list[dict], previous: list[dict] | None, key: str) -> list[dict]:
    """A snapshot entity's rows as the loader lands them: the changes against the previous snapshot."""
    before = {r[key]: r for r in previous or []}
    now = {r[key]: r for r in rows}
    changed = [
        {**r, "_change": "update" if r[key] in before else "insert"} for r in rows if before.get(r[key]) != r
    ]
    return changed + [{**r, "_change": "delete"} for k, r in before.items() if k not in now]


def write_raw(
    settings: Settings,
    day: date,
    records: dict[str, list[dict]],
    previous: dict[str, list[dict]] | None = None,
) -> None:
    """Each entity's rows as its batch of `day`, committed the way the loader commits a first delivery;
    snapshot entities (customers, products) as their changes against `previous` (the day before)."""
    ingested_at = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    for entity, rows in records.items():
        batch = batch_id("shop", entity, day)
        declared = shop_entities()[entity]
        if declared.is_snapshot:
            rows = snapshot_changes(rows, (previous or {}).get(entity), declared.primary_key[0])
        lineage = {"_batch_id": batch, "_ingested_at": ingested_at, "_source_file": f"{entity}.x"}
        table = pa.Table.from_pylist([{**r, **lineage} for r in rows], schema=declared.raw_schema)
        append_batch(settings.uri("raw", "shop", entity), table, batch, settings)


MART_SQL = {
    "fct_orders": """
        with items as (
            select order_id, count(*) as item_count, sum(quantity)::bigint as total_quantity,
                   sum(quantity * unit_price) as order_amount
            from raw_items group by order_id),
        paid as (select order_id, sum(amount) as amount_paid from
                 (select distinct payment_id, order_id, amount from raw_payments) group by order_id)
        select o.order_id, o.customer_id, o.order_date, o.ordered_at, o.status,
               i.item_count, i.total_quantity, i.order_amount,
               coalesce(p.amount_paid, 0) as amount_paid, p.amount_paid is not null as is_paid,
               o.updated_at, o._ingested_at as _loaded_at
        from (select distinct on (order_id) * from raw_orders order by order_id) o
        join items i using (order_id) left join paid p using (order_id)""",
    "dim_customers": """
        select c.customer_id, c.first_name, c.last_name, c.email, c.country, c.signup_date,
               min(o.order_date) as first_order_date, max(o.order_date) as last_order_date,
               count(o.order_id) as lifetime_orders, coalesce(sum(o.order_amount), 0) as lifetime_value,
               c.updated_at
        from (select distinct on (customer_id) * from raw_customers order by customer_id, _batch_id desc) c
        left join fct_orders o using (customer_id)
        group by all""",
    "fct_daily_revenue": """
        select order_date, count(*) as order_count, count(distinct customer_id) as customer_count,
               sum(item_count)::bigint as item_count, sum(order_amount) as gross_revenue,
               sum(amount_paid) as paid_revenue, count(*) filter (status = 'cancelled') as cancelled_orders
        from fct_orders group by order_date""",
}


def _write_marts(settings: Settings) -> None:
    """The marts, computed from the raw tables the way the dbt models do (close enough for contracts)."""
    with duckdb_session(settings=settings) as con:
        raw = {"orders": "orders", "items": "order_items", "payments": "payments", "customers": "customers"}
        create_lake_views(con, {f"raw_{k}": settings.uri("raw", "shop", v) for k, v in raw.items()})
        for name, sql in MART_SQL.items():
            table = con.sql(sql).to_arrow_table()
            append_batch(settings.uri("analytics", name), table, f"build-{name}", settings)
            create_lake_views(con, {name: settings.uri("analytics", name)})


def build_shop_lake(settings: Settings, run_date: date = RUN_DATE, **defects: int) -> Settings:
    """Raw batches of the day before and of run_date (which carries the defects), then the marts. The
    customers without an email lose it on run_date: its customers batch lands them as updates."""
    spec = Defects(**defects)
    days = (run_date - timedelta(days=1), run_date)
    previous = None
    for day in days:
        batch = _batch(day, days[0], spec if day == run_date else Defects())
        write_raw(settings, day, batch, previous)
        previous = batch
    _write_marts(settings)
    return settings
