import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from ingestion.loader import QUARANTINE_SCHEMA, ingest_date, raw_schema
from ingestion.shop.generator import generate_day, generate_landing
from ingestion.shop.schema import shop_entities
from lakehouse.lake import read_table

DAY = date(2024, 3, 5)
SCALE = 0.2


@pytest.fixture
def landed_files(lake_settings) -> dict[str, Path]:
    uris = generate_landing(DAY, SCALE, settings=lake_settings)
    return {Path(u).name: Path(u) for u in uris}


def raw(settings, entity: str) -> pa.Table:
    return read_table(settings.uri("raw", "shop", entity), settings)


def quarantine(settings) -> pa.Table:
    return read_table(settings.uri("quarantine", "shop", "records"), settings)


def rewrite_line(path: Path, line_number: int, change) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[line_number - 1] = change(lines[line_number - 1])
    path.write_text("".join(lines))


def test_lands_every_entity_with_lineage_and_the_exact_schema(lake_settings, landed_files):
    report = ingest_date(DAY, settings=lake_settings)
    assert not report.has_problems, report.problems()
    expected = generate_day(DAY, SCALE)
    for name, entity in shop_entities().items():
        table = raw(lake_settings, name)
        assert table.schema == raw_schema(entity), name
        assert table.select(entity.arrow_schema.names).equals(expected[name]), name
        assert report.entities[name].rows_landed == expected[name].num_rows
        assert set(table["_batch_id"].to_pylist()) == {f"shop/{name}/2024-03-05"}
        assert set(table["_ingested_at"].to_pylist()) == {datetime(2024, 3, 6, tzinfo=UTC)}
        assert set(table["_source_file"].to_pylist()) == {str(landed_files[entity.file_pattern])}


def test_rerunning_a_date_adds_nothing(lake_settings, landed_files):
    ingest_date(DAY, settings=lake_settings)
    tables = {n: DeltaTable(lake_settings.uri("raw", "shop", n)) for n in shop_entities()}
    before = {n: (t.version(), t.to_pyarrow_table().num_rows) for n, t in tables.items()}
    report = ingest_date(DAY, settings=lake_settings)
    after = {
        n: (DeltaTable(t.table_uri).version(), raw(lake_settings, n).num_rows) for n, t in tables.items()
    }
    assert after == before
    assert all(e.skipped_already_loaded and e.rows_landed == 0 for e in report.entities.values())
    assert not report.has_problems


def test_reingesting_the_same_files_elsewhere_gives_identical_tables(lake_settings, landed_files, tmp_path):
    other = lake_settings.model_copy(update={"lakehouse_root": str(tmp_path / "other")})
    generate_landing(DAY, SCALE, settings=other)
    ingest_date(DAY, settings=lake_settings)
    ingest_date(DAY, settings=other)
    for name in shop_entities():
        first, second = raw(lake_settings, name), raw(other, name)
        assert first.drop_columns("_source_file").equals(second.drop_columns("_source_file")), name


def test_corrupt_parquet_is_quarantined_and_the_rest_lands(lake_settings, landed_files):
    items = landed_files["order_items.parquet"]
    items.write_bytes(b"PAR1 this is not parquet")
    report = ingest_date(DAY, settings=lake_settings)
    assert report.has_problems
    item_report = report.entities["order_items"]
    assert item_report.rows_landed == 0 and "magic bytes" in (item_report.file_error or "")
    copied = Path(lake_settings.uri("quarantine", "shop", "files", "2024-03-05", "order_items.parquet"))
    assert copied.read_bytes() == items.read_bytes()
    assert item_report.quarantined_files == [str(copied)]
    (problem,) = report.problems()
    assert "order_items.parquet" in problem and "could not be landed" in problem and str(copied) in problem
    assert DeltaTable.is_deltatable(lake_settings.uri("raw", "shop", "order_items")) is False
    for name in ("customers", "products", "orders", "payments"):
        assert report.entities[name].rows_landed == raw(lake_settings, name).num_rows > 0
    (row,) = quarantine(lake_settings).to_pylist()
    assert row["entity"] == "order_items" and row["record"] is None and "magic bytes" in row["reason"]
    assert quarantine(lake_settings).schema == QUARANTINE_SCHEMA


def test_an_empty_file_keeps_the_batch_open_until_the_corrected_file_lands(lake_settings, landed_files):
    payments = landed_files["payments.jsonl"]
    good = payments.read_bytes()
    payments.write_bytes(b"")
    first = ingest_date(DAY, settings=lake_settings)
    assert first.has_problems and first.entities["payments"].empty_files == ["payments.jsonl"]
    assert any("payments.jsonl: the file is empty" in p and "stays open" in p for p in first.problems())
    assert first.entities["orders"].rows_landed > 0
    payments.write_bytes(good)
    second = ingest_date(DAY, settings=lake_settings)
    assert not second.has_problems
    assert second.entities["payments"].rows_landed == raw(lake_settings, "payments").num_rows > 0
    assert second.entities["orders"].skipped_already_loaded


def test_a_truncated_json_line_costs_that_line_only(lake_settings, landed_files):
    payments = landed_files["payments.jsonl"]
    lines = payments.read_text().splitlines(keepends=True)
    lines[9] = lines[9][: len(lines[9]) // 2] + "\n"  # line 10 cut mid-record
    payments.write_text("".join(lines))
    report = ingest_date(DAY, settings=lake_settings)
    entity = report.entities["payments"]
    assert (entity.rows_landed, entity.rows_quarantined) == (len(lines) - 1, 1)
    (row,) = quarantine(lake_settings).to_pylist()
    assert (row["record_number"], row["location"]) == (10, "line 10")
    assert row["reason"] == "not valid JSON (truncated or malformed)"
    assert any(p.startswith("payments.jsonl line 10: not valid JSON") for p in report.problems())


def test_bad_records_are_quarantined_with_their_reason_and_good_rows_land(lake_settings, landed_files):
    def bad_order(line: str) -> str:
        record = json.loads(line)
        return json.dumps({**record, "order_id": "x", "status": None}) + "\n"

    rewrite_line(landed_files["orders.jsonl"], 17, bad_order)
    rewrite_line(landed_files["customers.csv"], 5, lambda line: line.replace(",20", ",not-a-date", 1))
    orders_in_file = len(landed_files["orders.jsonl"].read_text().splitlines())

    report = ingest_date(DAY, settings=lake_settings)

    assert report.has_problems
    orders = report.entities["orders"]
    assert (orders.rows_landed, orders.rows_quarantined) == (orders_in_file - 1, 1)
    assert raw(lake_settings, "orders").num_rows == orders_in_file - 1
    assert report.entities["customers"].rows_quarantined == 1
    rows = {r["entity"]: r for r in quarantine(lake_settings).to_pylist()}
    assert rows["orders"]["reason"] == "order_id: 'x' is not a valid BIGINT; status: missing (required)"
    assert rows["orders"]["record_number"] == 17
    assert json.loads(rows["orders"]["record"])["order_id"] == "x"
    assert rows["customers"]["record_number"] == 5  # line 5 of the CSV (the header is line 1)
    assert rows["customers"]["reason"].startswith("signup_date: 'not-a-date")
    assert rows["orders"]["quarantined_at"] == datetime(2024, 3, 6, tzinfo=UTC)
    problems = report.problems()
    assert any(
        p.startswith("orders.jsonl line 17 (order_id=x): order_id: 'x' is not a valid BIGINT")
        for p in problems
    )
    assert any(p.startswith("customers.csv line 5 (customer_id=4): signup_date:") for p in problems)

    ingest_date(DAY, settings=lake_settings)
    assert quarantine(lake_settings).num_rows == 2  # quarantined exactly once


def test_uncastable_parquet_values_are_quarantined(lake_settings, landed_files):
    path = landed_files["order_items.parquet"]
    items = pq.read_table(path)
    quantity = pc.cast(items["quantity"], pa.string()).to_pylist()
    quantity[0], quantity[1], quantity[2] = "abc", "2.5", "3.0"
    pq.write_table(items.set_column(3, "quantity", pa.array(quantity)), path)

    report = ingest_date(DAY, settings=lake_settings)

    reasons = [r["reason"] for r in quarantine(lake_settings).to_pylist()]
    assert reasons == ["quantity: 'abc' is not a valid INTEGER", "quantity: '2.5' is not a valid INTEGER"]
    assert report.entities["order_items"].rows_landed == items.num_rows - 2
    landed = raw(lake_settings, "order_items")
    assert landed.schema.field("quantity").type == pa.int32()
    assert landed["quantity"][0].as_py() == 3
    assert report.problems()[0].startswith("order_items.parquet row 1 (order_item_id=")


def test_missing_file_and_missing_column_are_reported(lake_settings, landed_files):
    landed_files["products.csv"].unlink()
    customers = landed_files["customers.csv"]
    rewrite_line(customers, 1, lambda header: header.replace("signup_date", "signed_up"))

    report = ingest_date(DAY, settings=lake_settings)

    assert report.entities["products"].file_missing
    assert report.entities["products"].file_error
    assert "missing required columns ['signup_date']" in (report.entities["customers"].file_error or "")
    problems = " ".join(report.problems())
    assert "products: no landing file for 2024-03-05" in problems
    assert "customers.csv: could not be landed (missing required columns ['signup_date']" in problems
    assert report.entities["orders"].rows_landed > 0
