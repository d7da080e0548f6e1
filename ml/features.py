"""Customer features as of a logical date, computed in DuckDB from the marts and appended to a Delta table.

Point in time: only orders placed on or before `as_of` count, so recomputing an earlier date from a later
lake gives that date's view of each customer's history (order statuses are the latest known).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.lake import create_lake_views, duckdb_session, read_table, replace_partition
from lakehouse.layout import analytics_table, features_table
from lakehouse.settings import Settings, get_settings

FEATURE_TABLE = "customer_features"

FEATURES_SQL = """
with
customers as (
    select customer_id, signup_date
    from dim_customers
    where signup_date <= $as_of
),

orders as (
    select customer_id, order_id, order_date, order_amount, item_count, status
    from fct_orders
    where order_date <= $as_of
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


def build_customer_features(as_of: date, settings: Settings | None = None) -> FeatureReport:
    """Compute the features for `as_of` and replace that date's slice of the feature table (idempotent)."""
    settings = settings or get_settings()
    uri = feature_table_uri(settings)
    with duckdb_session(settings=settings) as con:
        create_lake_views(
            con,
            {name: analytics_table(name, settings) for name in ("fct_orders", "dim_customers")},
        )
        features = con.execute(FEATURES_SQL, {"as_of": as_of}).to_arrow_table()
    replace_partition(
        uri, features, f"as_of_date = '{as_of.isoformat()}'", settings, partition_by=["as_of_date"]
    )
    return FeatureReport(as_of=as_of, customers=features.num_rows, table_uri=uri)


def load_features(as_of: date, settings: Settings | None = None) -> pa.Table:
    """The feature rows for one date (the seam a training or scoring flow reads)."""
    table = read_table(feature_table_uri(settings), settings)
    return table.filter(pc.equal(table["as_of_date"], as_of))
