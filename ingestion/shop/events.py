"""The demo shop's daily events: orders with their lifecycle, order lines and payments.

`day_orders(day)` is a pure function of (seed, scale, day): a later run date recomputes an earlier day's
orders to emit their status changes and late payments, so the generator keeps no state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.shop.calendar import SECOND_US, day_rng, day_start_us
from ingestion.shop.population import Customers, Products

ORDERS_PER_SCALE = 2_000
WEEKDAY_FACTORS = np.array([0.95, 0.9, 0.9, 0.95, 1.05, 1.15, 1.1])  # Monday..Sunday, mean 1.0
HOUR_WEIGHTS = np.array([1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 8, 7, 7, 7, 7, 8, 9, 10, 10, 8, 5, 3], float)
ID_DAY_FACTOR = 10**9  # order_id = day * 10**9 + sequence within the day

CANCELLED_SHARE = 0.05
RETURNED_SHARE = 0.03  # of delivered orders
LATE_PAYMENT_SHARE = 0.10
LINES_PER_ORDER_P = np.array([0.25, 0.30, 0.20, 0.15, 0.10])  # 1..5 lines, mean 2.55
NEGATIVE_QUANTITY_SHARE = 0.002
PAYMENT_METHOD_P = np.array([0.6, 0.25, 0.1, 0.05])  # schema.PAYMENT_METHODS order
LIFECYCLE_DAYS = 7  # an order's last status change is at most this many days after it was placed

STREAMS = {"orders": 100, "customers": 101, "lifecycle": 102, "lines": 103, "payments": 104, "dupes": 105}


@dataclass(frozen=True)
class DayOrders:
    """Orders placed on one day, with their whole future lifecycle. -1 marks an event that never happens."""

    day: int
    order_id: np.ndarray
    customer_id: np.ndarray
    ordered_us: np.ndarray
    event_day: dict[str, np.ndarray]  # status -> day of the transition to it
    event_us: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return len(self.order_id)


@dataclass(frozen=True)
class DayLines:
    order_item_id: np.ndarray
    order_pos: np.ndarray  # index into DayOrders arrays
    product_id: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray


@dataclass(frozen=True)
class DayPayments:
    payment_id: np.ndarray
    order_id: np.ndarray
    method_idx: np.ndarray
    amount: np.ndarray
    paid_day: np.ndarray
    paid_us: np.ndarray


def _order_count(rng: np.random.Generator, day: int, scale: float) -> int:
    if day < 0:  # no orders before EPOCH
        return 0
    weekday = day % 7  # EPOCH (2024-01-01) was a Monday
    return int(rng.poisson(ORDERS_PER_SCALE * scale * WEEKDAY_FACTORS[weekday]))


def _time_of_day_us(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return (hour * 3600 + rng.integers(0, 3600, size=n)) * SECOND_US


def _lifecycle(rng: np.random.Generator, day: int, n: int) -> dict[str, np.ndarray]:
    """Transition days: placed -> shipped (1-2 d) -> delivered (1-3 d) -> maybe returned (1-2 d);
    or placed -> cancelled (1-2 d). At most LIFECYCLE_DAYS after placement."""
    cancelled = rng.random(n) < CANCELLED_SHARE
    ship = day + rng.integers(1, 3, size=n)
    deliver = ship + rng.integers(1, 4, size=n)
    returned = rng.random(n) < RETURNED_SHARE
    back = deliver + rng.integers(1, 3, size=n)
    cancel = day + rng.integers(1, 3, size=n)
    return {
        "cancelled": np.where(cancelled, cancel, -1),
        "shipped": np.where(cancelled, -1, ship),
        "delivered": np.where(cancelled, -1, deliver),
        "returned": np.where(~cancelled & returned, back, -1),
    }


def day_orders(customers: Customers, day: int, scale: float, seed: int) -> DayOrders:
    """All orders placed on `day` (day index), ordered by time; ids are stable across reruns."""
    rng = day_rng(seed, day, STREAMS["orders"])
    n = _order_count(rng, day, scale)
    customer_id = customers.pick(day_rng(seed, day, STREAMS["customers"]), day, n)
    n = len(customer_id)
    ordered_us = day_start_us(day) + np.sort(_time_of_day_us(rng, n))
    order_id = day * ID_DAY_FACTOR + np.arange(1, n + 1, dtype=np.int64)
    rng = day_rng(seed, day, STREAMS["lifecycle"])
    event_day = _lifecycle(rng, day, n)
    event_us = {
        status: day_start_us(np.maximum(d, 0)) + _time_of_day_us(rng, n) for status, d in event_day.items()
    }
    return DayOrders(day, order_id, customer_id, ordered_us, event_day, event_us)


def day_lines(orders: DayOrders, products: Products, seed: int) -> DayLines:
    """1-5 lines per order, products drawn by popularity among those active that day, price of that day."""
    rng = day_rng(seed, orders.day, STREAMS["lines"])
    counts = rng.choice(np.arange(1, 6), size=orders.size, p=LINES_PER_ORDER_P)
    order_pos = np.repeat(np.arange(orders.size), counts)
    line_no = np.arange(len(order_pos)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    active = np.flatnonzero(products.active_on(orders.day))
    weights = products.popularity[active] / products.popularity[active].sum()
    product_pos = active[rng.choice(len(active), size=len(order_pos), p=weights)]
    quantity = 1 + rng.poisson(0.4, size=len(order_pos))
    quantity = np.where(rng.random(len(order_pos)) < NEGATIVE_QUANTITY_SHARE, -quantity, quantity)
    return DayLines(
        order_item_id=orders.order_id[order_pos] * 10 + line_no,
        order_pos=order_pos,
        product_id=product_pos.astype(np.int64) + 1,
        quantity=quantity.astype(np.int32),
        unit_price=products.price_on(orders.day)[product_pos],
    )


def day_payments(orders: DayOrders, lines: DayLines, seed: int) -> DayPayments:
    """One payment per order for the full amount: same day a few minutes after the order, or (late) the
    next day. payment_id = order_id * 10 + 1."""
    rng = day_rng(seed, orders.day, STREAMS["payments"])
    n = orders.size
    line_amount = np.abs(lines.quantity) * lines.unit_price
    amount = np.round(np.bincount(lines.order_pos, weights=line_amount, minlength=n), 2)
    late = rng.random(n) < LATE_PAYMENT_SHARE
    same_day_us = np.minimum(
        orders.ordered_us + rng.integers(20, 900, size=n) * SECOND_US,
        day_start_us(orders.day + 1) - SECOND_US,
    )
    next_day_us = day_start_us(orders.day + 1) + _time_of_day_us(rng, n)
    return DayPayments(
        payment_id=orders.order_id * 10 + 1,
        order_id=orders.order_id,
        method_idx=rng.choice(len(PAYMENT_METHOD_P), size=n, p=PAYMENT_METHOD_P),
        amount=amount,
        paid_day=np.where(late, orders.day + 1, orders.day),
        paid_us=np.where(late, next_day_us, same_day_us),
    )
