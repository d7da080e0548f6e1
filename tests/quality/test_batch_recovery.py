"""A bad batch blocks only its own night, and `lakehouse batch retract` + a corrected redelivery recovers it.

Real parts end to end: the shop generator writes landing files, the loader lands them as Delta tables, the
raw gate verifies the Soda contracts, the retract command deletes with a Delta commit and reopens the batch.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import typer
from deltalake import DeltaTable
from typer.testing import CliRunner

from ingestion.loader import ingest_source
from ingestion.registry import get_source
from ingestion.shop.generator import generate_landing
from lakehouse.lake import read_table, table_rows
from lakehouse.layout import landing_file, quality_ledger, raw_table
from lakehouse.settings import Settings
from lakehouse.wap import full_refresh_done, pending_full_refresh
from orchestration.batch_cli import batch_app
from quality.scan import verify_contracts

D1 = date(2024, 3, 4)
D2, D3, D4 = (D1 + timedelta(days=n) for n in (1, 2, 3))
SCALE = 0.05


def _deliver_and_land(settings: Settings, day: date) -> None:
    generate_landing(day, scale=SCALE, settings=settings)
    _land(settings, day)


def _land(settings: Settings, day: date) -> dict[str, int]:
    report = ingest_source(get_source("shop", settings), day, settings)
    return {name: e.rows_landed for name, e in report.entities.items()}


def _corrupt_orders(settings: Settings, day: date) -> None:
    """The partner's broken export: 5 order lines sent twice and one order with an unknown status."""
    path = Path(landing_file("shop", day, "orders.jsonl", settings))
    lines = path.read_text().splitlines()
    record = json.loads(lines[0])
    record["status"] = "misplaced"
    path.write_text("\n".join([json.dumps(record), *lines[1:], *lines[1:6]]) + "\n")


def _blocking(settings: Settings, day: date) -> set[tuple[str, str]]:
    report = verify_contracts(day, "raw", settings, sources=["shop"])
    assert report.skipped == [], report.skipped
    return {(r.dataset, r.check) for r in report.blocking_failures}


def _retract(*args: str):
    app = typer.Typer()
    app.add_typer(batch_app, name="batch")
    return CliRunner().invoke(app, ["batch", "retract", *args], env={"COLUMNS": "200"})


def test_a_bad_batch_blocks_its_night_only_and_retract_plus_redelivery_recovers_it(lake_settings):
    settings = lake_settings
    _deliver_and_land(settings, D1)
    assert _blocking(settings, D1) == set()

    generate_landing(D2, scale=SCALE, settings=settings)
    _corrupt_orders(settings, D2)
    _land(settings, D2)
    assert _blocking(settings, D2) == {
        ("raw_shop.orders", "checks.duplicate"),
        ("raw_shop.orders", "columns.status.checks.invalid"),
    }

    # the next night is clean: its gate judges its own batch, not the bad one still in the table
    _deliver_and_land(settings, D3)
    assert _blocking(settings, D3) == set()

    orders = raw_table("shop", "orders", settings)
    bad_rows = table_rows(orders, settings)
    result = _retract("--source", "shop", "--date", D2.isoformat(), "--reason", "partner re-exports orders")
    assert result.exit_code == 0, result.output
    assert "orders" in result.output and "shop/orders/2024-03-05/redelivery-1" in result.output
    removed = bad_rows - table_rows(orders, settings)
    assert removed > 0
    assert str(removed) in result.output  # rows per entity are printed
    [commit] = DeltaTable(orders).history(1)
    assert commit["operation"] == "DELETE" and commit["lakehouse.operation"] == "retraction"
    assert commit["lakehouse.reason"] == "partner re-exports orders"
    assert commit["lakehouse.next_app_id"] == "shop/orders/2024-03-05/redelivery-1"
    ledger = read_table(quality_ledger(settings), settings).to_pylist()
    retractions = [r for r in ledger if r["check_type"] == "retraction"]
    # the snapshot entities' batches stay: the snapshots of D3 were diffed against them
    appended = {e for e, entity in get_source("shop").entities.items() if not entity.is_snapshot}
    assert "kept customers: shop/customers/2024-03-05 is a snapshot batch" in result.output
    assert {r["dataset"] for r in retractions} == {f"raw_shop.{e}" for e in appended}
    assert all(r["layer"] == "ingest" and r["run_date"] == D2 for r in retractions)
    assert next(r for r in retractions if r["dataset"] == "raw_shop.orders")["value"] == removed
    # the next run rebuilds the marts in full: batch watermarks cannot see a redelivery under the same id
    [asked] = pending_full_refresh(settings)
    assert "shop/2024-03-05 retracted" in asked and "partner re-exports orders" in asked
    # the retracted date is not judged until it is delivered again
    skipped = verify_contracts(D2, "raw", settings, sources=["shop"]).skipped
    assert len(skipped) == 3 and all("awaiting delivery shop/" in s for s in skipped)

    # the corrected redelivery lands (exactly once) and passes its gate
    generate_landing(D2, scale=SCALE, settings=settings)
    landed = {e: rows for e, rows in _land(settings, D2).items() if e in appended}
    assert all(rows > 0 for rows in landed.values()), landed
    assert _blocking(settings, D2) == set()
    after = {e: table_rows(raw_table("shop", e, settings), settings) for e in landed}
    assert _land(settings, D2) == dict.fromkeys(get_source("shop").entities, 0)  # a rerun appends nothing
    assert {e: table_rows(raw_table("shop", e, settings), settings) for e in landed} == after
    assert DeltaTable(orders).transaction_version("shop/orders/2024-03-05/redelivery-1") is not None

    # and the gates of the other nights still pass
    assert _blocking(settings, D1) == set() and _blocking(settings, D3) == set()


def test_keys_seen_before_catch_a_batch_that_resends_an_earlier_dates_orders(lake_settings):
    settings = lake_settings
    for day in (D1, D2):
        _deliver_and_land(settings, day)
    generate_landing(D3, scale=SCALE, settings=settings)
    resent = Path(landing_file("shop", D2, "orders.jsonl", settings)).read_text()
    Path(landing_file("shop", D3, "orders.jsonl", settings)).write_text(resent)
    _land(settings, D3)
    report = verify_contracts(D3, "raw", settings, sources=["shop"])
    [seen] = [r for r in report.blocking_failures if r.check == "checks.failed_rows"]
    assert seen.dataset == "raw_shop.orders" and seen.value == len(resent.splitlines())
    # the re-sent rows are stale too, but only the seen-before check names what happened
    assert {r.dataset for r in report.blocking_failures} == {"raw_shop.orders"}
    assert _blocking(settings, D2) == set()  # the batch it copied is not blamed


def test_retract_exit_codes(lake_settings):
    _deliver_and_land(lake_settings, D1)
    nothing = _retract("--source", "shop", "--date", D4.isoformat())
    assert nothing.exit_code == 1 and "nothing to retract" in nothing.output
    assert _retract("--source", "shop", "--date", "04/03/2024").exit_code == 2
    assert _retract("--source", "nope", "--date", D1.isoformat()).exit_code == 2
    assert _retract("--source", "shop", "--date", D1.isoformat(), "--entity", "nope").exit_code == 2
    assert _retract("--date", D1.isoformat()).exit_code == 2  # --source is required
    one = _retract("--source", "shop", "--date", D1.isoformat(), "--entity", "payments")
    assert one.exit_code == 0, one.output
    assert table_rows(raw_table("shop", "payments", lake_settings), lake_settings) == 0
    assert table_rows(raw_table("shop", "orders", lake_settings), lake_settings) > 0
    again = _retract("--source", "shop", "--date", D1.isoformat(), "--entity", "payments")
    assert again.exit_code == 1  # already retracted, not delivered again yet
    assert len(pending_full_refresh(lake_settings)) == 1  # only a retraction that removed rows asks
    full_refresh_done(lake_settings)
    assert pending_full_refresh(lake_settings) == []
