"""Customer features as of a logical date, computed in DuckDB from the raw Delta tables and written to a
Delta table partitioned by date.

Point in time: a date's features see only what the lake knew at the end of that date, the raw batches of
dates on or before `as_of` (`_ingested_at` is deterministic: midnight UTC after the batch's date, see
ingestion/loader.py). Each order counts in its latest version known then (its status as of that night), each
customer in their latest snapshot change. So recomputing an earlier date from a later lake, or in a backfill
killed and resumed, gives the same rows as the night itself did; the marts (today's state) are not read.
The shop's current-state logic is the marts' (dbt_project/macros/shop/), restated here over the cut-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.lake import create_lake_views, duckdb_session, read_table, replace_partition
from lakehouse.layout import features_table, raw_schema_name, raw_table
from lakehouse.settings import Settings, get_settings

FEATURE_TABLE = "customer_features"
SOURCE = "shop"  # the features describe the demo shop's customers
RAW_ENTITIES = ("customers", "orders", "order_items")

FEATURES_SQL = """
with
known_customer_changes as (
    select * from (
        from raw_shop.customers
        -- a raw table landed before snapshot loads has no _change column: every row is an insert
        union all by name
        select cast(null as varchar) as _change where false
    )
    where _ingested_at <= $known_by
),

customers as (
    select customer_id, signup_date
    from known_customer_changes
    where signup_date <= $as_of
    qualify row_number() over (
        partition by customer_id order by _ingested_at desc, _batch_id desc, updated_at desc
    ) = 1
),

known_orders as (
    select customer_id, order_id, order_date, status
    from raw_shop.orders
    where _ingested_at <= $known_by
    qualify row_number() over (
        partition by order_id order by updated_at desc, _ingested_at desc, _batch_id desc
    ) = 1
),

known_lines as (
    select order_id, quantity, unit_price
    from raw_shop.order_items
    where _ingested_at <= $known_by
    qualify row_number() over (
        partition by order_item_id order by _ingested_at desc, _batch_id desc
    ) = 1
),

lines_per_order as (
    select
        order_id,
        count(*) as item_count,
        cast(sum(quantity * unit_price) as decimal(18, 2)) as order_amount
    from known_lines
    group by order_id
),

orders as (
    select
        o.customer_id,
        o.order_id,
        o.order_date,
        coalesce(l.order_amount, 0) as order_amount,
        coalesce(l.item_count, 0) as item_count,
        o.status
    from known_orders as o
    left join lines_per_order as l using (order_id)
    where o.order_date <= $as_of
),

per_customer as (
    select
        customer_id,
        count(*) filter (where status != 'cancelled') as frequency,
        count(*) filter (
            where status != 'cancelled' and order_date > $as_of - interval 90 day
        ) as frequency_90d,
        coalesce(
            sum(order_amount) filter (where status not in ('cancelled', 'returned')), 0
        ) as monetary_value,
        avg(order_amount) filter (where status != 'cancelled') as avg_basket,
        avg(item_count) filter (where status != 'cancelled') as avg_items_per_order,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) filter (where status = 'cancelled') / count(*) as cancel_rate,
        count(*) filter (where status = 'returned') / count(*) as return_rate,
    from orders
    group by customer_id
),

final as (
    select
        ----- keys
        c.customer_id,
        cast($as_of as date) as as_of_date,
        ----- recency, frequency, monetary
        date_diff('day', p.last_order_date, cast($as_of as date)) as recency_days,
        coalesce(p.frequency, 0)::bigint as frequency,
        coalesce(p.frequency_90d, 0)::bigint as frequency_90d,
        coalesce(p.monetary_value, 0)::double as monetary_value,
        p.avg_basket::double as avg_basket,
        p.avg_items_per_order::double as avg_items_per_order,
        ----- tenure and rhythm
        date_diff('day', c.signup_date, cast($as_of as date)) as tenure_days,
        case when p.frequency > 1
            then date_diff('day', p.first_order_date, p.last_order_date) / (p.frequency - 1)
        end::double as avg_days_between_orders,
        coalesce(p.cancel_rate, 0)::double as cancel_rate,
        coalesce(p.return_rate, 0)::double as return_rate,
    from customers as c
    left join per_customer as p using (customer_id)
)

select * from final order by customer_id
"""


@dataclass(frozen=True)
class FeatureReport:
    as_of: date
    customers: int
    table_uri: str


def feature_table_uri(settings: Settings | None = None) -> str:
    return features_table(FEATURE_TABLE, settings)


def known_by(as_of: date) -> datetime:
    """The cut-off of what the lake knew at the end of `as_of`: the `_ingested_at` of that date's batches."""
    return datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)


def compute_customer_features(as_of: date, settings: Settings | None = None) -> pa.Table:
    """The feature rows of `as_of`, from the raw batches of dates on or before it (nothing is written)."""
    settings = settings or get_settings()
    with duckdb_session(settings=settings) as con:
        con.execute("SET TimeZone = 'UTC'")
        views = {entity: raw_table(SOURCE, entity, settings) for entity in RAW_ENTITIES}
        create_lake_views(con, views, schema=raw_schema_name(SOURCE))
        params = {"as_of": as_of, "known_by": known_by(as_of)}
        return con.execute(FEATURES_SQL, params).to_arrow_table()


def build_customer_features(as_of: date, settings: Settings | None = None) -> FeatureReport:
    """Compute the features for `as_of` and replace that date's slice of the feature table (idempotent)."""
    settings = settings or get_settings()
    uri = feature_table_uri(settings)
    features = compute_customer_features(as_of, settings)
    replace_partition(
        uri, features, f"as_of_date = '{as_of.isoformat()}'", settings, partition_by=["as_of_date"]
    )
    return FeatureReport(as_of=as_of, customers=features.num_rows, table_uri=uri)


def load_features(as_of: date, settings: Settings | None = None) -> pa.Table:
    """The feature rows for one date (the seam a training or scoring flow reads)."""
    table = read_table(feature_table_uri(settings), settings)
    return table.filter(pc.equal(table["as_of_date"], as_of))
