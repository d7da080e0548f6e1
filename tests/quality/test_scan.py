"""Contracts verified against a tiny lake: what passes, warns and blocks, and that every check runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from shop_lake import RUN_DATE

from quality.report import ScanReport
from quality.scan import CONTRACTS_DIR, contract_files, verify_contracts

# Checks per contract. Soda can silently drop a check with a mistyped key (soda-core#2810): these numbers
# are counted from the YAML below *and* must come back as results, so a dropped check fails this suite.
EXPECTED_CHECKS = {
    "raw/customers.yml": 9,
    "raw/order_items.yml": 10,
    "raw/orders.yml": 11,
    "raw/payments.yml": 10,
    "raw/products.yml": 8,
    "marts/dim_customers.yml": 8,
    "marts/fct_daily_revenue.yml": 9,
    "marts/fct_orders.yml": 11,
}

DESIGNED_DEFECT_WARNINGS = {
    ("raw/customers.yml", "columns.email.checks.missing"),
    ("raw/payments.yml", "columns.payment_id.checks.duplicate"),
    ("raw/order_items.yml", "columns.quantity.checks.invalid"),
    ("marts/dim_customers.yml", "columns.email.checks.missing"),
}


def _checks_in_yaml(path: Path) -> int:
    doc = yaml.safe_load(path.read_text())
    column_checks = sum(len(c.get("checks") or []) for c in doc.get("columns", []))
    return len(doc.get("checks") or []) + column_checks


def _outcomes(report: ScanReport) -> dict[tuple[str, str], str]:
    return {(r.contract, r.check): r.outcome for r in report.results}


def test_every_contract_is_counted_in_the_yaml():
    files = {f"{p.parent.name}/{p.name}": _checks_in_yaml(p) for p in contract_files("all")}
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
        assert outcomes[(contract, f"{check}.ceiling")] == "passed"


def test_duplicate_order_id_in_one_batch_blocks_naming_the_check(build_lake):
    settings = build_lake(duplicate_orders_in_batch=3)
    report = verify_contracts(RUN_DATE, "raw", settings)
    [failure] = report.blocking_failures
    assert (failure.dataset, failure.check) == ("raw_shop__orders", "checks.duplicate")
    assert failure.level == "blocking"
    assert failure.value == 3
    [message] = report.failure_messages()
    assert "raw_shop__orders" in message and "order_id is unique within a landing batch" in message
    assert "quality/contracts/raw/orders.yml" in message and "To fix:" in message


@pytest.mark.parametrize(
    ("days_after_data", "expected"),
    [(-1, "passed"), (0, "passed"), (1, "warned"), (3, "failed")],
    ids=["backfill-of-earlier-date", "same-date", "one-day-stale", "three-days-stale"],
)
def test_freshness_is_measured_against_the_run_date(build_lake, days_after_data, expected):
    settings = build_lake()
    report = verify_contracts(RUN_DATE + timedelta(days=days_after_data), "all", settings)
    freshness = {(r.contract, r.check): r for r in report.results if r.check_type == "freshness"}
    assert len(freshness) == 6  # warn at 24 h and fail at 48 h, on raw orders, fct_orders, fct_daily_revenue
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
    (tmp_path / "raw").mkdir()
    text = (CONTRACTS_DIR / "raw" / "products.yml").read_text().replace("- row_count:", "- row_cont:")
    (tmp_path / "raw" / "products.yml").write_text(text)
    report = verify_contracts(RUN_DATE, "raw", settings, contracts_dir=tmp_path)
    [error] = report.blocking_failures
    assert error.outcome == "error" and "row_cont" in (error.detail or "")
