"""Labels are point in time: only dates whose window has passed, and nothing after the window counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse.layout import raw_table
from lakehouse.settings import Settings
from ml.labels import LabelsNotMature, build_mature_labels, compute_labels, feature_dates, window_end

AS_OF = date(2026, 10, 3)


def _raw_orders(settings: Settings) -> DeltaTable:
    return DeltaTable(raw_table("shop", "orders", settings))


def _append_versions(settings: Settings, rows: pa.Table) -> None:
    write_deltalake(raw_table("shop", "orders", settings), rows, mode="append")


def _versions(settings: Settings, order_ids: list[int], **changes: object) -> pa.Table:
    """New raw versions of existing orders (one row each) with `changes` applied."""
    table = _raw_orders(settings).to_pyarrow_table()
    table = table.filter(pc.is_in(table["order_id"], pa.array(order_ids)))
    table = table.take(_first_rows(table))
    for name, value in changes.items():
        field = table.schema.field(name)
        values = pa.array([value] * table.num_rows, field.type)
        table = table.set_column(table.schema.get_field_index(name), field, values)
    return table


def _first_rows(table: pa.Table) -> list[int]:
    seen: dict[int, int] = {}
    for i, order_id in enumerate(table["order_id"].to_pylist()):
        seen.setdefault(order_id, i)
    return list(seen.values())


def _window_orders(settings: Settings, as_of: date) -> pa.Table:
    end = window_end(as_of, settings)
    table = _raw_orders(settings).to_pyarrow_table()
    dates = table["order_date"]
    return table.filter(pc.and_(pc.greater(dates, as_of), pc.less_equal(dates, end)))


def test_only_dates_whose_window_passed_get_labels(ml_lake: Settings):
    dates = feature_dates(ml_lake)
    reports = build_mature_labels(settings=ml_lake)
    labelled = [r.as_of for r in reports]
    assert labelled == [d for d in dates if d + timedelta(days=30) <= date(2026, 11, 30)]
    assert len(labelled) == 13 and labelled[-1] == date(2026, 10, 30)
    with pytest.raises(LabelsNotMature, match="need orders up to 2026-12-01"):
        compute_labels(date(2026, 11, 1), ml_lake)
    rate = sum(r.positives for r in reports) / sum(r.customers for r in reports)
    assert 0.6 < rate < 0.95, rate  # both classes occur in numbers


def test_data_after_the_window_changes_no_label(ml_lake: Settings):
    before = compute_labels(AS_OF, ml_lake)
    end = window_end(AS_OF, ml_lake)
    after_end = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    window = _window_orders(ml_lake, AS_OF)
    placed = window["order_id"].to_pylist()
    # every order in the window is cancelled, but only after the window closed ...
    _append_versions(ml_lake, _versions(ml_lake, placed, status="cancelled", updated_at=after_end))
    # ... and every customer orders again right after it
    late = _versions(ml_lake, placed[:200], order_date=end + timedelta(days=1), updated_at=after_end)
    late = late.set_column(0, "order_id", pc.add(late["order_id"], pa.scalar(10**12, pa.int64())))
    _append_versions(ml_lake, late)
    assert compute_labels(AS_OF, ml_lake).equals(before)


def test_a_cancellation_inside_the_window_does_change_the_label(ml_lake: Settings):
    """The counter-check: the same edit, known before the window closed, does count."""
    before = compute_labels(AS_OF, ml_lake)
    end = window_end(AS_OF, ml_lake)
    inside = datetime.combine(end, time.max, UTC)  # the last instant of the window
    placed = _window_orders(ml_lake, AS_OF)["order_id"].to_pylist()
    _append_versions(ml_lake, _versions(ml_lake, placed, status="cancelled", updated_at=inside))
    after = compute_labels(AS_OF, ml_lake)
    assert pc.sum(before["label"].cast(pa.int64())).as_py() > 500
    assert pc.sum(after["label"].cast(pa.int64())).as_py() == 0
    assert after["customer_id"].equals(before["customer_id"])
