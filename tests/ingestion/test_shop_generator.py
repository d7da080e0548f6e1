import hashlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ingestion.shop.calendar import day_index
from ingestion.shop.generator import generate_day, generate_landing, shop_population
from ingestion.shop.schema import ORDER_STATUSES, shop_entities

DAY = date(2024, 3, 5)


def days(start: date, n: int, scale: float = 1.0) -> list[dict[str, pa.Table]]:
    return [generate_day(start + timedelta(days=i), scale) for i in range(n)]


def test_tables_match_the_entity_schemas():
    tables = generate_day(DAY)
    assert set(tables) == set(shop_entities())
    for name, table in tables.items():
        assert table.schema == shop_entities()[name].arrow_schema, name


def test_same_arguments_give_identical_content_and_others_differ():
    first, again = generate_day(DAY, 0.5, seed=7), generate_day(DAY, 0.5, seed=7)
    assert all(first[n].equals(again[n]) for n in first)
    next_day, other_seed = generate_day(DAY + timedelta(days=1), 0.5, 7), generate_day(DAY, 0.5, seed=8)
    for name in ("orders", "order_items", "payments"):
        assert not first[name].equals(next_day[name])
        assert not first[name].equals(other_seed[name])


def test_rerun_rewrites_byte_identical_files(lake_settings):
    def digests() -> dict[str, str]:
        uris = generate_landing(DAY, 0.3, settings=lake_settings)
        return {Path(u).name: hashlib.sha256(Path(u).read_bytes()).hexdigest() for u in uris}

    first = digests()
    assert sorted(first) == sorted(e.file_pattern for e in shop_entities().values())
    assert digests() == first
    assert Path(lake_settings.uri("landing", "shop", DAY.isoformat(), "orders.jsonl")).exists()


def placed(orders: pa.Table) -> pa.Table:
    return orders.filter(pc.equal(orders["status"], "placed"))


def test_default_scale_volumes():
    tables = generate_day(DAY)
    assert 1_700 <= placed(tables["orders"]).num_rows <= 2_300
    assert 4_200 <= tables["order_items"].num_rows <= 5_800
    assert tables["products"].num_rows == 200
    assert 3_000 <= tables["customers"].num_rows <= 5_000


def test_sizes_scale_linearly():
    small, large = generate_day(DAY, 0.5), generate_day(DAY, 2.0)
    for name in ("customers", "order_items", "payments"):
        assert large[name].num_rows / small[name].num_rows == pytest.approx(4, rel=0.1), name
    assert placed(large["orders"]).num_rows / placed(small["orders"]).num_rows == pytest.approx(4, rel=0.1)
    assert generate_day(DAY, 0.1)["order_items"].num_rows > 0


def test_order_ids_are_stable_and_unique_per_day():
    orders = generate_day(DAY)["orders"]
    new = placed(orders)["order_id"].to_numpy()
    assert len(np.unique(new)) == len(new)
    assert (new // 10**9 == day_index(DAY)).all()
    assert len(np.unique(orders["order_id"].to_numpy())) == orders.num_rows  # one row per order per day


def test_defect_rates_are_present_and_roughly_right():
    tables = days(DAY, 3, scale=2.0)
    customers = tables[-1]["customers"]
    assert 0.005 < customers["email"].null_count / customers.num_rows < 0.015
    quantity = pa.concat_arrays([t["order_items"]["quantity"].combine_chunks() for t in tables])
    negative = pc.sum(pc.less(quantity, 0)).as_py() / len(quantity)
    assert 0.001 < negative < 0.0035
    payments = tables[-1]["payments"]
    duplicates = payments.num_rows - len(np.unique(payments["payment_id"].to_numpy()))
    assert 0.002 < duplicates / payments.num_rows < 0.009
    assert payments.group_by(payments.column_names).aggregate([]).num_rows == payments.num_rows - duplicates


def test_late_payments_appear_the_next_day_and_every_order_is_paid_once():
    today, tomorrow = generate_day(DAY), generate_day(DAY + timedelta(days=1))
    orders = placed(today["orders"])["order_id"].to_numpy()
    paid_today = np.unique(today["payments"]["order_id"].to_numpy())
    paid_tomorrow = np.unique(tomorrow["payments"]["order_id"].to_numpy())
    late = np.setdiff1d(orders, paid_today)
    assert 0.07 < len(late) / len(orders) < 0.13
    assert np.isin(late, paid_tomorrow).all()
    assert not np.isin(np.intersect1d(orders, paid_today), paid_tomorrow).any()
    late_rows = tomorrow["payments"].filter(pc.is_in(tomorrow["payments"]["order_id"], pa.array(late)))
    paid_dates = pc.cast(late_rows["paid_at"], pa.date32()).to_pylist()
    assert set(paid_dates) == {DAY + timedelta(days=1)}


def test_status_changes_of_earlier_orders_repeat_the_original_order():
    history = days(DAY - timedelta(days=7), 8)
    today = history[-1]["orders"]
    updates = today.filter(pc.not_equal(today["status"], "placed"))
    assert set(updates["status"].to_pylist()) == set(ORDER_STATUSES) - {"placed"}
    assert pc.all(pc.less(updates["order_date"], pa.scalar(DAY))).as_py()
    assert set(pc.cast(updates["updated_at"], pa.date32()).to_pylist()) == {DAY}
    originals = pa.concat_tables(placed(t["orders"]) for t in history[:-1])
    cols = ["order_id", "customer_id", "order_date", "ordered_at"]
    joined = updates.select(cols).join(originals.select(cols), cols, join_type="inner")
    assert joined.num_rows == updates.num_rows


def test_order_lifecycles_follow_the_allowed_transitions():
    history = pa.concat_tables(t["orders"] for t in days(DAY, 14))
    first_day = history.filter(pc.equal(history["order_date"], pa.scalar(DAY)))
    allowed = {
        ("placed", "shipped", "delivered"),
        ("placed", "shipped", "delivered", "returned"),
        ("placed", "cancelled"),
    }
    by_order: dict[int, list[tuple[object, str]]] = {}
    for row in first_day.select(["order_id", "updated_at", "status"]).to_pylist():
        by_order.setdefault(row["order_id"], []).append((row["updated_at"], row["status"]))
    paths = {tuple(s for _, s in sorted(events)) for events in by_order.values()}
    assert paths == allowed


def test_items_and_payments_are_consistent_with_orders_and_prices():
    tables = generate_day(DAY)
    items, products, orders = tables["order_items"], tables["products"], placed(tables["orders"])
    assert set(items["order_id"].to_pylist()) == set(orders["order_id"].to_pylist())
    per_order = items.group_by("order_id").aggregate([("order_item_id", "count")])
    assert pc.min_max(per_order["order_item_id_count"]).as_py() == {"min": 1, "max": 5}
    priced = items.join(products.select(["product_id", "unit_price"]), "product_id", right_suffix="_now")
    assert priced["unit_price"].equals(priced["unit_price_now"])
    line_total = pc.multiply(pc.cast(pc.abs(items["quantity"]), pa.float64()), items["unit_price"])
    totals = items.append_column("total", line_total).group_by("order_id").aggregate([("total", "sum")])
    paid = tables["payments"].join(totals, "order_id", join_type="inner")
    assert np.allclose(paid["amount"].to_numpy(), np.round(paid["total_sum"].to_numpy(), 2))


def test_customer_snapshot_reflects_profile_changes_as_of_the_date():
    early, late = generate_day(date(2024, 1, 10))["customers"], generate_day(date(2024, 9, 10))["customers"]
    assert late.num_rows > early.num_rows
    assert pc.max(early["signup_date"]).as_py() <= date(2024, 1, 10)
    assert pc.max(early["updated_at"]).as_py().date() <= date(2024, 1, 10)
    both = early.join(late, "customer_id", right_suffix="_late", join_type="inner")
    changed = both.filter(pc.not_equal(both["updated_at"], both["updated_at_late"]))
    assert changed.num_rows > 0.05 * both.num_rows
    changed_email = pc.not_equal(changed["email"], changed["email_late"])
    assert pc.all(changed_email).as_py()


def test_customers_with_higher_propensity_order_more():
    customers, _ = shop_population(1.0, 42)
    ids = pa.concat_arrays(
        [placed(t["orders"])["customer_id"].combine_chunks() for t in days(date(2025, 2, 1), 14)]
    )
    counts = np.bincount(ids.to_numpy(), minlength=customers.size + 1)[1:]
    eligible = customers.signup_day < day_index(date(2025, 2, 1))
    propensity, counts = customers.propensity[eligible], counts[eligible]
    top, bottom = propensity >= np.quantile(propensity, 0.8), propensity <= np.quantile(propensity, 0.2)
    assert counts[top].mean() > 5 * counts[bottom].mean()
    assert np.corrcoef(propensity, counts)[0, 1] > 0.8
