"""The quality ledger: one Delta table, rewritten (not appended) per run date and layer."""

from __future__ import annotations

from datetime import timedelta

from shop_lake import RUN_DATE

from ingestion.batches import Retracted, RetractReport
from lakehouse.lake import open_table, read_table
from quality.ledger import LEDGER_SCHEMA, ledger_uri, write_drift, write_retraction
from quality.scan import verify_contracts, write_ledger


def _sorted_rows(settings):
    rows = read_table(ledger_uri(settings), settings).to_pylist()
    return sorted(rows, key=lambda r: tuple(map(str, r.values())))


def test_ledger_rerun_for_the_same_date_is_idempotent(build_lake):
    settings = build_lake(missing_emails=2)
    report = verify_contracts(RUN_DATE, "all", settings)
    write_ledger(report, RUN_DATE, settings)
    first = _sorted_rows(settings)
    assert len(first) == len(report.results)
    assert read_table(ledger_uri(settings), settings).schema == LEDGER_SCHEMA

    write_ledger(verify_contracts(RUN_DATE, "all", settings), RUN_DATE, settings)
    assert _sorted_rows(settings) == first  # identical rows: no wall-clock column
    assert open_table(ledger_uri(settings), settings).version() == 1  # replaced, not appended

    email = [r for r in first if r["check"] == "columns.email.checks.missing" and r["layer"] == "raw"]
    # the run date's batch only: 2 of its customers, not the 4 of both batches
    assert [(r["outcome"], r["level"], r["value"]) for r in email] == [("warned", "warn", 2.0)]


def test_ledger_replaces_only_the_scanned_date_and_layer(build_lake):
    settings = build_lake()
    all_today = verify_contracts(RUN_DATE, "all", settings)
    write_ledger(all_today, RUN_DATE, settings)
    other_day = RUN_DATE - timedelta(days=1)  # another date with a raw batch (the lake holds two)
    write_ledger(verify_contracts(other_day, "all", settings), other_day, settings)
    write_ledger(verify_contracts(RUN_DATE, "raw", settings), RUN_DATE, settings)

    rows = read_table(ledger_uri(settings), settings).to_pylist()
    per_day_layer: dict[tuple, int] = {}
    for r in rows:
        per_day_layer[(r["run_date"], r["layer"])] = per_day_layer.get((r["run_date"], r["layer"]), 0) + 1
    raw = sum(1 for r in all_today.results if r.layer == "raw")
    marts = len(all_today.results) - raw
    assert per_day_layer == {
        (RUN_DATE, "raw"): raw,
        (RUN_DATE, "marts"): marts,
        (other_day, "raw"): raw,
        (other_day, "marts"): marts,
    }


def test_retractions_drift_and_scans_of_a_date_keep_each_others_rows(build_lake):
    settings = build_lake()
    retracted = Retracted(
        "orders", "shop/orders/2026-11-26", "raw/shop/orders", 7, 1, "shop/orders/2026-11-26",
        "shop/orders/2026-11-26/redelivery-1",
    )  # fmt: skip
    report = RetractReport("shop", RUN_DATE, "partner re-export", [retracted])
    assert write_retraction(report, settings) == 1
    assert write_retraction(report, settings) == 1  # the same retraction again replaces its row
    write_ledger(verify_contracts(RUN_DATE, "all", settings), RUN_DATE, settings)
    write_drift([], RUN_DATE, settings)
    rows = read_table(ledger_uri(settings), settings).to_pylist()
    [row] = [r for r in rows if r["check_type"] == "retraction"]
    assert (row["layer"], row["dataset"], row["value"]) == ("ingest", "raw_shop.orders", 7.0)
    assert "partner re-export" in row["check_name"] and "redelivery-1" in (row["detail"] or "")
    assert {r["layer"] for r in rows} == {"ingest", "raw", "marts"}
