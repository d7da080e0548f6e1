"""Labels, point in time: did the customer place a non-cancelled order within `label_days` after `as_of`?

For each customer in the feature table on `as_of`, the label looks only at orders placed in the window
(`as_of`, `as_of + label_days`] and at what was known of them when the window closed: each order's latest
version in the raw orders table updated before the end of the window's last day. A cancellation that arrives
after the window, or any order placed after it, changes nothing. A date's labels exist only once its window
has passed: the lake holds orders up to the window's last day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa

from lakehouse.lake import create_lake_views, duckdb_session, open_table, replace_partition
from lakehouse.layout import features_table, raw_table
from lakehouse.settings import Settings, get_settings
from ml.features import feature_table_uri

LABEL_TABLE = "customer_labels"

LABELS_SQL = """
with
population as (
    select customer_id
    from customer_features
    where as_of_date = $as_of
),

known_at_window_end as (
    select order_id, customer_id, status
    from raw_orders
    where order_date > $as_of
        and order_date <= $window_end
        and updated_at < cast($window_end as timestamptz) + interval 1 day
    qualify row_number() over (partition by order_id order by updated_at desc) = 1
),

buyers as (
    select distinct customer_id
    from known_at_window_end
    where status != 'cancelled'
),

final as (
    select
        p.customer_id,
        cast($as_of as date) as as_of_date,
        cast($window_end as date) as window_end,
        (b.customer_id is not null) as label,
    from population as p
    left join buyers as b using (customer_id)
)

select * from final order by customer_id
"""


class LabelsNotMature(ValueError):
    """The label window of a date has not passed yet (the lake holds no orders up to its end)."""


@dataclass(frozen=True)
class LabelReport:
    as_of: date
    window_end: date
    customers: int
    positives: int
    table_uri: str


def label_table_uri(settings: Settings | None = None) -> str:
    return features_table(LABEL_TABLE, settings)


def window_end(as_of: date, settings: Settings | None = None) -> date:
    return as_of + timedelta(days=(settings or get_settings()).lakehouse_ml_label_days)


def orders_through(settings: Settings | None = None) -> date | None:
    """The last order date the lake holds (raw orders), None when it holds none."""
    settings = settings or get_settings()
    uri = raw_table("shop", "orders", settings)
    if open_table(uri, settings) is None:
        return None
    with duckdb_session(settings=settings) as con:
        row = con.execute(f"select max(order_date) from delta_scan('{uri}')").fetchone()
    return row[0] if row else None


def is_mature(as_of: date, settings: Settings | None = None, through: date | None = None) -> bool:
    """True when the lake holds orders up to the end of `as_of`'s label window."""
    through = through or orders_through(settings)
    return through is not None and window_end(as_of, settings) <= through


def compute_labels(as_of: date, settings: Settings | None = None) -> pa.Table:
    """One date's labels as Arrow (customer_id, as_of_date, window_end, label); LabelsNotMature if its
    window has not passed."""
    settings = settings or get_settings()
    end = window_end(as_of, settings)
    through = orders_through(settings)
    if not is_mature(as_of, settings, through):
        raise LabelsNotMature(
            f"labels as of {as_of} need orders up to {end}, but the lake holds orders up to {through}: "
            f"land those dates first (lakehouse backfill) or label an earlier date."
        )
    with duckdb_session(settings=settings) as con:
        con.execute("SET TimeZone = 'UTC'")
        create_lake_views(
            con,
            {
                "customer_features": feature_table_uri(settings),
                "raw_orders": raw_table("shop", "orders", settings),
            },
        )
        return con.execute(LABELS_SQL, {"as_of": as_of, "window_end": end}).to_arrow_table()


def build_labels(as_of: date, settings: Settings | None = None) -> LabelReport:
    """Compute `as_of`'s labels and replace that date's slice of the label table (idempotent)."""
    settings = settings or get_settings()
    labels = compute_labels(as_of, settings)
    uri = label_table_uri(settings)
    predicate = f"as_of_date = '{as_of.isoformat()}'"
    replace_partition(uri, labels, predicate, settings, partition_by=["as_of_date"])
    positives = int(pa.compute.sum(labels["label"].cast(pa.int64())).as_py() or 0)
    return LabelReport(as_of, window_end(as_of, settings), labels.num_rows, positives, uri)


def feature_dates(settings: Settings | None = None) -> list[date]:
    """The as_of dates the feature table holds, oldest first (empty when there is no table)."""
    settings = settings or get_settings()
    uri = feature_table_uri(settings)
    if open_table(uri, settings) is None:
        return []
    with duckdb_session(settings=settings) as con:
        rows = con.execute(f"select distinct as_of_date from delta_scan('{uri}') order by 1").fetchall()
    return [row[0] for row in rows]


def build_mature_labels(
    dates: Iterable[date] | None = None, settings: Settings | None = None
) -> list[LabelReport]:
    """Labels for each of `dates` (default: every feature date) whose window has passed; the others are
    skipped."""
    settings = settings or get_settings()
    dates = feature_dates(settings) if dates is None else dates
    through = orders_through(settings)
    return [build_labels(d, settings) for d in dates if is_mature(d, settings, through)]
