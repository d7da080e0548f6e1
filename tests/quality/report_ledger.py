"""A quality ledger of five nights, written through the ledger's own writers (Soda rows, dbt results, volumes
of real Delta tables, publish decisions), for the report tests. Night 4 goes wrong: raw orders arrive late
(freshness warns), duplicate order ids fail dbt's unique test on fct_orders and its candidate is withheld, so
the mart's freshness warns too; night 5 recovers."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from lakehouse.lake import append_batch
from lakehouse.settings import Settings
from lakehouse.transform import DbtNodeResult
from quality.ledger import (
    sample_json,
    write_dbt_results,
    write_drift,
    write_ledger,
    write_publish_decision,
    write_volumes,
)
from quality.report import CheckRow, ScanReport

LAST_DAY = date(2026, 11, 26)
DAYS = [LAST_DAY - timedelta(days=n) for n in range(4, -1, -1)]
BAD_DAY = DAYS[3]
DUPLICATES = [{"order_id": 4711, "count": 2}, {"order_id": 4712, "count": 3}]


def _soda(day: date, bad: bool) -> list[CheckRow]:
    lag = 30.0 if bad else 2.5
    rows = [
        CheckRow("raw", "raw/shop/orders.yml", "raw_shop.orders", "checks.row_count", "row_count", None,
                 "Table has rows", "passed", "blocking", 200.0 + 10 * day.day, "must be greater than: 0"),
        CheckRow("raw", "raw/shop/orders.yml", "raw_shop.orders", "checks.freshness", "freshness", None,
                 "Orders updated up to the run date (warn after 24 h)", "warned" if bad else "passed", "warn",
                 lag, "must be less than or equal: 24"),
        CheckRow("raw", "raw/shop/customers.yml", "raw_shop.customers", "columns.email.checks.missing",
                 "missing", "email", "email is present (warn on any)", "warned", "warn", 2.0, "must be = 0"),
        CheckRow("raw", "raw/shop/orders.yml", "raw_shop.orders", "checks.duplicate", "duplicate", None,
                 "order_id is unique within a batch", "passed", "blocking", 0.0, "must be = 0"),
    ]  # fmt: skip
    return rows


def _marts(day: date, bad: bool) -> list[CheckRow]:
    return [
        CheckRow("marts", "marts/fct_orders.yml", "fct_orders", "checks.freshness", "freshness", None,
                 "Orders placed up to the run date (warn after 24 h)", "warned" if bad else "passed", "warn",
                 26.0 if bad else 1.5, "must be less than or equal: 24"),
        CheckRow("marts", "marts/dim_customers.yml", "dim_customers", "checks.row_count", "row_count", None,
                 "Table has rows", "passed", "blocking", 200.0, "must be greater than: 0"),
    ]  # fmt: skip


def _dbt(bad: bool) -> list[DbtNodeResult]:
    unique = DbtNodeResult(
        unique_id="test.lakehouse.unique_fct_orders_order_id.1a2b", name="unique_fct_orders_order_id",
        kind="test", status="fail" if bad else "pass", tested_node="model.lakehouse.fct_orders",
        column="order_id", test_type="unique", severity="error", failures=2 if bad else 0,
        message="Got 2 results, configured to fail if != 0" if bad else "",
        file="models/marts/_marts__models.yml", sample=sample_json(DUPLICATES) if bad else None,
    )  # fmt: skip
    email = DbtNodeResult(
        unique_id="test.lakehouse.not_null_stg_shop__customers_email.3c4d",
        name="not_null_stg_shop__customers_email", kind="test", status="warn",
        tested_node="model.lakehouse.stg_shop__customers", column="email", test_type="not_null",
        severity="warn", failures=2, message="Got 2 results, configured to warn if != 0",
        file="models/staging/shop/_shop__models.yml",
    )  # fmt: skip
    return [unique, email]


def _grow(settings: Settings, day: date, n: int) -> dict[str, str]:
    """Append the night's rows to two small real Delta tables; their volumes come from the Delta log."""
    tables = {"raw_shop.orders": settings.uri("raw", "shop", "orders")}
    tables["fct_orders"] = settings.uri("analytics", "fct_orders")
    for name, uri in tables.items():
        size = 2 * n if name.startswith("raw") else n
        append_batch(uri, pa.table({"id": range(size), "day": [day] * size}), f"{name}-{day}", settings)
    return tables


def write_five_nights(settings: Settings) -> None:
    for i, day in enumerate(DAYS):
        bad = day == BAD_DAY
        write_drift([], day, settings)
        write_ledger(ScanReport(day, "raw", _soda(day, bad)), day, settings)
        write_dbt_results(_dbt(bad), day, settings)
        write_ledger(ScanReport(day, "marts", _marts(day, bad)), day, settings)
        write_volumes(day, settings, tables=_grow(settings, day, 50 + 10 * i), run_id=f"run-{i}")
        decision = "withheld" if bad else "published"
        detail = "unique_fct_orders_order_id failed: 2 duplicate order ids" if bad else "all checks passed"
        write_publish_decision(day, "fct_orders", decision, 3 + i, detail, f"run-{i}", settings,
                               sample=sample_json(DUPLICATES) if bad else None)  # fmt: skip
