"""Contracts verified against a tiny lake: what passes, warns and blocks, and that every check runs."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from shop_lake import RUN_DATE

from lakehouse.lake import create_lake_views, duckdb_session
from lakehouse.layout import raw_table
from quality.report import ScanReport
from quality.scan import CONTRACTS_DIR, _soda_verify, contract_files, run_end, verify_contracts

# Checks per contract. Soda can silently drop a check with a mistyped key (soda-core#2810): these numbers
# are counted from the YAML below *and* must come back as results, so a dropped check fails this suite.
EXPECTED_CHECKS = {
    "raw/shop/customers.yml": 12,
    "raw/shop/order_items.yml": 11,
    "raw/shop/orders.yml": 12,
    "raw/shop/payments.yml": 11,
    "raw/shop/products.yml": 11,
    "marts/dim_customers.yml": 8,
    "marts/fct_daily_revenue.yml": 9,
    "marts/fct_orders.yml": 11,
}

DESIGNED_DEFECT_WARNINGS = {
    ("raw/shop/customers.yml", "columns.email.checks.missing"),
    ("raw/shop/payments.yml", "columns.payment_id.checks.duplicate"),
    ("raw/shop/order_items.yml", "columns.quantity.checks.invalid"),
    ("marts/dim_customers.yml", "columns.email.checks.missing"),
}

# customers land as snapshot changes: their email ceiling judges the current customers, not the batch
CEILINGS = {"raw/shop/customers.yml": "checks.failed_rows.email_ceiling"}


def _checks_in_yaml(path: Path) -> int:
    doc = yaml.safe_load(path.read_text())
    column_checks = sum(len(c.get("checks") or []) for c in doc.get("columns", []))
    return len(doc.get("checks") or []) + column_checks


def _outcomes(report: ScanReport) -> dict[tuple[str, str], str]:
    return {(r.contract, r.check): r.outcome for r in report.results}


def test_every_contract_is_counted_in_the_yaml():
    files = {p.relative_to(CONTRACTS_DIR).as_posix(): _checks_in_yaml(p) for p in contract_files("all")}
    assert files == EXPECTED_CHECKS


def test_clean_lake_passes_and_every_check_runs(build_lake):
    settings = build_lake()
    report = verify_contracts(RUN_DATE, "all", settings)
    assert report.count_by_contract() == EXPECTED_CHECKS
    assert [r.message() for r in report.results if r.outcome != "passed"] == []
    assert report.passed and report.blocking_failures == []


def test_designed_defects_warn_without_blocking(build_lake):
    settings = build_lake(missing_emails=2, duplicate_payments=1, negative_quantities=1)
    report = verify_contracts(RUN_DATE, "all", settings)
    warned = {(r.contract, r.check) for r in report.warnings}
    assert warned == DESIGNED_DEFECT_WARNINGS
    assert all(r.level == "warn" for r in report.warnings)
    assert report.blocking_failures == []
    # the blocking ceilings next to them ran and passed at these rates (1%, 0.5%, 0.25%)
    outcomes = _outcomes(report)
    for contract, check in DESIGNED_DEFECT_WARNINGS:
        ceiling = CEILINGS.get(contract, f"{check}.ceiling")
        assert outcomes[(contract, ceiling)] == "passed"


def test_duplicate_order_id_in_one_batch_blocks_naming_the_check(build_lake):
    settings = build_lake(duplicate_orders_in_batch=3)
    report = verify_contracts(RUN_DATE, "raw", settings)
    [failure] = report.blocking_failures
    assert (failure.dataset, failure.check) == ("raw_shop.orders", "checks.duplicate")
    assert failure.level == "blocking"
    assert failure.value == 3
    [message] = report.failure_messages()
    assert "raw_shop.orders" in message and "order_id is unique within a landing batch" in message
    assert "quality/contracts/raw/shop/orders.yml" in message and "To fix:" in message


@pytest.mark.parametrize(
    ("days_after_data", "expected"),
    [(-1, "passed"), (0, "passed"), (1, "warned"), (3, "failed")],
    ids=["backfill-of-earlier-date", "same-date", "one-day-stale", "three-days-stale"],
)
def test_freshness_is_measured_against_the_run_date(build_lake, days_after_data, expected):
    settings = build_lake()
    report = verify_contracts(RUN_DATE + timedelta(days=days_after_data), "all", settings)
    freshness = {(r.contract, r.check): r for r in report.results if r.check_type == "freshness"}
    # warn at 24 h and fail at 48 h on fct_orders and fct_daily_revenue, and on raw orders when the run
    # date has a batch to judge (a later date has none: its raw contracts are skipped, saying so)
    has_batch = days_after_data <= 0
    assert len(freshness) == (6 if has_batch else 4)
    assert (
        any(s.startswith("raw/shop/orders.yml: no batch shop/orders/") for s in report.skipped) != has_batch
    )
    warn_outcome = "warned" if expected in ("warned", "failed") else "passed"
    fail_outcome = "failed" if expected == "failed" else "passed"
    for (_, check), row in freshness.items():
        assert row.outcome == (fail_outcome if check.endswith(".stale") else warn_outcome), row.message()
    assert report.passed == (expected != "failed")


def test_missing_tables_are_blocking_errors(lake_settings):
    report = verify_contracts(RUN_DATE, "marts", lake_settings)
    failed = {r.dataset for r in report.blocking_failures}
    assert failed == {"fct_orders", "dim_customers", "fct_daily_revenue"}
    assert all(r.outcome == "error" and "has the pipeline run?" in (r.detail or "") for r in report.results)


def test_a_broken_contract_is_a_blocking_error(build_lake, tmp_path):
    settings = build_lake()
    contracts = tmp_path / "contracts"
    (contracts / "raw" / "shop").mkdir(parents=True)
    text = (
        (CONTRACTS_DIR / "raw" / "shop" / "products.yml").read_text().replace("- duplicate:", "- duplicat:")
    )
    (contracts / "raw" / "shop" / "products.yml").write_text(text)
    report = verify_contracts(RUN_DATE, "raw", settings, contracts_dir=contracts)
    [error] = report.blocking_failures
    assert error.outcome == "error" and "duplicat" in (error.detail or "")


def test_a_raw_contract_naming_another_schema_is_a_blocking_error(build_lake, tmp_path):
    """raw/<source>/<entity>.yml must name lakehouse/raw_<source>/<entity>: one name per raw table."""
    settings = build_lake()
    contracts = tmp_path / "contracts"
    (contracts / "raw" / "shop").mkdir(parents=True)
    text = (CONTRACTS_DIR / "raw" / "shop" / "products.yml").read_text()
    old_name = text.replace("lakehouse/raw_shop/products", "lakehouse/main/raw_shop__products")
    (contracts / "raw" / "shop" / "products.yml").write_text(old_name)
    report = verify_contracts(RUN_DATE, "raw", settings, contracts_dir=contracts)
    [error] = report.blocking_failures
    assert error.outcome == "error" and "lakehouse/raw_shop/<table>" in (error.detail or "")


def test_a_raw_contract_whose_table_has_not_landed_is_skipped_not_errored(build_lake):
    settings = build_lake()
    shutil.rmtree(raw_table("shop", "payments", settings))
    report = verify_contracts(RUN_DATE, "raw", settings)
    assert report.passed and report.blocking_failures == []
    assert "raw/shop/payments.yml" not in report.count_by_contract()
    assert set(report.count_by_contract()) == {c for c in EXPECTED_CHECKS if c.startswith("raw/shop/")} - {
        "raw/shop/payments.yml"
    }
    [skipped] = report.skipped
    assert skipped.startswith("raw/shop/payments.yml: no Delta table at ")
    assert raw_table("shop", "payments", settings) in skipped


def test_raw_contracts_run_only_for_the_given_sources(build_lake):
    settings = build_lake()
    report = verify_contracts(RUN_DATE, "all", settings, sources=["crm"])
    assert {r.layer for r in report.results} == {"marts"}  # marts behave as before
    assert len(report.skipped) == 5
    assert all("source shop is not among this run's sources (crm)" in s for s in report.skipped)
    shop = verify_contracts(RUN_DATE, "raw", settings, sources=["shop"])
    assert shop.skipped == [] and len(shop.count_by_contract()) == 5


def test_soda_reads_the_dataset_ids_schema_not_main(build_lake):
    """`lakehouse/raw_shop/orders` is raw_shop.orders, even when main holds a table of the same name."""
    settings = build_lake()
    contract = CONTRACTS_DIR / "raw" / "shop" / "orders.yml"
    with duckdb_session(settings=settings) as con:
        create_lake_views(con, {"orders": raw_table("shop", "orders", settings)}, schema="raw_shop")
        con.execute("create table main.orders as select 1 as not_an_order")  # a decoy in the default schema
        result = _soda_verify(con, contract, {"RUN_END": run_end(RUN_DATE)})
    outcomes = [c.outcome.name for r in result.contract_verification_results for c in r.check_results]
    assert not result.has_errors, result.get_errors_str()
    assert len(outcomes) == EXPECTED_CHECKS["raw/shop/orders.yml"] and set(outcomes) == {"PASSED"}
