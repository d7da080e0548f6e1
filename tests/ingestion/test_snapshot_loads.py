"""Snapshot entities (`load: snapshot`): each night's full snapshot lands as its changes; real Delta.

The shop's products and customers are snapshots. Its 2026 population is settled (no signups or profile
changes any more), so edits of the landed products.csv make the updates and deletes the tests look for.
"""

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from ingestion.batches import retract_batch
from ingestion.loader import ingest_source
from ingestion.registry import get_source
from ingestion.report import IngestReport
from ingestion.shop.generator import generate_day, generate_landing
from ingestion.snapshots import SnapshotOrderError
from lakehouse.lake import read_table
from lakehouse.settings import Settings

NIGHTS = [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
SCALE = 0.05
CURRENT_SQL = """
    select * exclude (_change) from delta_scan(?)
    qualify row_number() over (partition by {key} order by _ingested_at desc) = 1 and _change <> 'delete'
    order by {key}
"""


def land(settings: Settings, day: date, entities: tuple[str, ...] = ("products",)) -> IngestReport:
    return ingest_source(get_source("shop", settings), day, settings, entities=list(entities))


def deliver(settings: Settings, day: date, edit: Callable[[list[str]], list[str]] | None = None) -> Path:
    """The shop's landing files of `day`; `edit` rewrites the lines of products.csv (line 0 is the header)."""
    generate_landing(day, SCALE, settings=settings)
    path = Path(settings.uri("landing", "shop", day.isoformat(), "products.csv"))
    if edit:
        path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))
    return path


def changes(settings: Settings, entity: str, day: date) -> pa.Table:
    table = read_table(settings.uri("raw", "shop", entity), settings)
    return table.filter(pa.compute.equal(table["_batch_id"], f"shop/{entity}/{day}"))


def current_state(settings: Settings, entity: str, key: str) -> pa.Table:
    with duckdb.connect() as con:
        sql = CURRENT_SQL.format(key=key)
        table = con.execute(sql, [settings.uri("raw", "shop", entity)]).to_arrow_table()
    return table.drop_columns(["_batch_id", "_ingested_at", "_source_file"])


def reprice(line: str, price: str) -> str:
    fields = line.split(",")
    return ",".join([*fields[:3], price, *fields[4:]])


def test_snapshot_nights_land_only_their_changes(lake_settings):
    snapshot_rows = 0
    for day in NIGHTS:
        deliver(lake_settings, day)
        report = land(lake_settings, day, ("customers", "products"))
        assert not report.has_problems, report.problems()
        snapshot_rows += sum(generate_day(day, SCALE)[e].num_rows for e in ("customers", "products"))
    first = {e: generate_day(NIGHTS[0], SCALE)[e].num_rows for e in ("customers", "products")}
    for entity, rows in first.items():
        assert changes(lake_settings, entity, NIGHTS[0])["_change"].unique().to_pylist() == ["insert"]
        assert changes(lake_settings, entity, NIGHTS[0]).num_rows == rows
    raw_rows = sum(read_table(lake_settings.uri("raw", "shop", e), lake_settings).num_rows for e in first)
    assert raw_rows < sum(first.values()) + 10  # the settled shop changes a handful of prices, if any
    print(f"raw rows after {len(NIGHTS)} nights at scale {SCALE}: {raw_rows} (appended: {snapshot_rows})")


def test_an_update_and_a_delete_land_as_changes_and_a_rerun_lands_nothing(lake_settings):
    first = deliver(lake_settings, NIGHTS[0])
    land(lake_settings, NIGHTS[0])
    deleted_line = first.read_text().splitlines()[3]
    deliver(lake_settings, NIGHTS[1], lambda lines: [*lines[:2], reprice(lines[2], "99.5"), *lines[4:]])
    report = land(lake_settings, NIGHTS[1]).entities["products"]
    assert report.snapshot is not None and report.snapshot.counts == {"insert": 0, "update": 1, "delete": 1}
    landed = changes(lake_settings, "products", NIGHTS[1]).to_pylist()
    assert [(r["product_id"], r["_change"], r["unit_price"]) for r in landed] == [
        (2, "update", 99.5),
        (3, "delete", float(deleted_line.split(",")[3])),  # a tombstone keeps the last known values
    ]
    table = DeltaTable(lake_settings.uri("raw", "shop", "products"))
    again = land(lake_settings, NIGHTS[1]).entities["products"]
    assert again.skipped_already_loaded and DeltaTable(table.table_uri).version() == table.version()


def test_the_current_state_equals_the_last_snapshot_after_several_nights(lake_settings):
    deliver(lake_settings, NIGHTS[0])
    land(lake_settings, NIGHTS[0])
    deliver(lake_settings, NIGHTS[1], lambda lines: [*lines[:2], reprice(lines[2], "1.25"), *lines[5:]])
    land(lake_settings, NIGHTS[1])
    deliver(lake_settings, NIGHTS[2])  # the price comes back, products 3 and 4 are back
    report = land(lake_settings, NIGHTS[2]).entities["products"]
    assert report.snapshot is not None and report.snapshot.counts["insert"] == 2
    expected = generate_day(NIGHTS[2], SCALE)["products"].sort_by("product_id")
    current = current_state(lake_settings, "products", "product_id")
    assert current.cast(expected.schema).equals(expected)


def test_a_night_without_changes_commits_its_batch_with_no_rows(lake_settings):
    deliver(lake_settings, NIGHTS[0])
    land(lake_settings, NIGHTS[0], ("customers",))
    deliver(lake_settings, NIGHTS[1])
    report = land(lake_settings, NIGHTS[1], ("customers",)).entities["customers"]
    assert report.rows_landed == 0 and not report.has_problems
    assert DeltaTable(lake_settings.uri("raw", "shop", "customers")).version() == 1
    assert land(lake_settings, NIGHTS[1], ("customers",)).entities["customers"].skipped_already_loaded


def test_quarantined_records_infer_no_deletion_of_their_keys(lake_settings):
    deliver(lake_settings, NIGHTS[0])
    land(lake_settings, NIGHTS[0])
    # product 2's price is unreadable (its key is read), product 3 is gone from the snapshot
    deliver(lake_settings, NIGHTS[1], lambda lines: [*lines[:2], reprice(lines[2], "abc"), *lines[4:]])
    report = land(lake_settings, NIGHTS[1]).entities["products"]
    assert report.rows_quarantined == 1 and report.snapshot is not None
    landed = changes(lake_settings, "products", NIGHTS[1])
    assert landed.select(["product_id", "_change"]).to_pylist() == [{"product_id": 3, "_change": "delete"}]
    assert any("keys of quarantined records were not deleted" in p for p in report.problems(NIGHTS[1], "q"))


def test_an_unreadable_record_infers_no_deletion_at_all(lake_settings):
    deliver(lake_settings, NIGHTS[0])
    land(lake_settings, NIGHTS[0])
    # a line with too many fields (its key is unknown), product 3 is gone from the snapshot
    deliver(lake_settings, NIGHTS[1], lambda lines: [*lines[:2], lines[2].rstrip() + ",x,y\n", *lines[4:]])
    report = land(lake_settings, NIGHTS[1]).entities["products"]
    assert report.rows_quarantined == 1 and report.rows_landed == 0
    assert any("no deletions inferred" in p for p in report.problems(NIGHTS[1], "q"))


def test_an_empty_snapshot_lands_nothing_and_keeps_the_batch_open(lake_settings):
    deliver(lake_settings, NIGHTS[0])
    land(lake_settings, NIGHTS[0])
    deliver(lake_settings, NIGHTS[1], lambda lines: lines[:1])
    report = land(lake_settings, NIGHTS[1]).entities["products"]
    assert report.has_problems and report.batch_open and report.rows_landed == 0
    assert DeltaTable(lake_settings.uri("raw", "shop", "products")).version() == 0


def test_a_backfill_is_refused_until_the_later_snapshots_are_retracted(lake_settings):
    for day in (NIGHTS[0], NIGHTS[2]):
        deliver(lake_settings, day)
        land(lake_settings, day)
    deliver(lake_settings, NIGHTS[1])
    refused = land(lake_settings, NIGHTS[1]).entities["products"]
    assert refused.out_of_order and "retract --source shop --entity products --date 2026-11-22" in (
        refused.out_of_order
    )
    with pytest.raises(SnapshotOrderError, match="2026-11-22"):
        retract_batch("shop", ["products"], NIGHTS[0], "test", lake_settings)
    retracted = retract_batch("shop", ["products"], NIGHTS[2], "backfill 21st", lake_settings)
    assert [r.entity for r in retracted.retracted] == ["products"]
    assert not land(lake_settings, NIGHTS[1]).has_problems
    again = land(lake_settings, NIGHTS[2]).entities["products"]  # the redelivery lands once, in order
    assert not again.has_problems and not again.skipped_already_loaded
    assert land(lake_settings, NIGHTS[2]).entities["products"].skipped_already_loaded


def test_a_retracted_snapshot_with_changes_is_rediffed_on_redelivery(lake_settings):
    deliver(lake_settings, NIGHTS[0])
    land(lake_settings, NIGHTS[0])
    deliver(lake_settings, NIGHTS[1], lambda lines: [*lines[:2], reprice(lines[2], "0.01"), *lines[3:]])
    land(lake_settings, NIGHTS[1])
    retract_batch("shop", ["products"], NIGHTS[1], "wrong price", lake_settings)
    deliver(lake_settings, NIGHTS[1], lambda lines: [*lines[:2], reprice(lines[2], "7.5"), *lines[3:]])
    land(lake_settings, NIGHTS[1])
    landed = changes(lake_settings, "products", NIGHTS[1]).to_pylist()
    assert [(r["product_id"], r["_change"], r["unit_price"]) for r in landed] == [(2, "update", 7.5)]
