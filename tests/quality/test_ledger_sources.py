"""The one quality ledger: volume rows, publish decisions, every writer replacing only its own layer, and an
older ledger upgraded in place to the current schema."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from shop_lake import RUN_DATE

from lakehouse.lake import open_table, read_table
from quality.ledger import (
    LEDGER_SCHEMA,
    lake_tables,
    ledger_uri,
    sample_json,
    upgrade_ledger,
    write_drift,
    write_ledger,
    write_publish_decision,
    write_volumes,
)
from quality.report import CheckRow, ScanReport


def _rows(settings, **where):
    rows = read_table(ledger_uri(settings), settings).to_pylist()
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def test_volume_rows_count_every_raw_table_and_mart_from_the_delta_log(build_lake):
    settings = build_lake()
    assert write_volumes(RUN_DATE, settings) == len(lake_tables(settings))
    rows = {r["dataset"]: r for r in _rows(settings, layer="volume")}
    assert {"raw_shop.orders", "raw_shop.payments", "fct_orders", "dim_customers"} <= set(rows)
    for name, uri in lake_tables(settings).items():
        row = rows[name]
        table = open_table(uri, settings)
        if table is None:  # a mart of the contracts that the tiny lake does not build
            assert (row["outcome"], row["value"]) == ("missing", None)
            continue
        assert row["value"] == table.to_pyarrow_table().num_rows  # the metadata count is exact here
        assert (row["source"], row["check_type"], row["outcome"]) == ("lake", "volume", "recorded")
        assert row["table_version"] is None  # marts get a new version on every rerun: not recorded
    assert rows["raw_shop.orders"]["value"] == 400  # two batches of 200 orders

    before = _rows(settings)
    write_volumes(RUN_DATE, settings)
    assert sorted(map(str, _rows(settings))) == sorted(map(str, before))  # rerun: identical rows


def test_publish_decisions_are_idempotent_per_date_model_and_decision(lake_settings):
    s = lake_settings
    sample = sample_json([{"order_id": 7, "status": "lost"}] * 9)
    write_publish_decision(RUN_DATE, "fct_orders", "withheld", 3, "status invalid", "run-1", s, sample)
    write_publish_decision(
        RUN_DATE, "fct_orders", "withheld", 3, "status invalid (rerun)", "run-2", s, sample
    )
    write_publish_decision(RUN_DATE, "dim_customers", "published", 5, "all checks passed", "run-2", s)
    write_publish_decision(RUN_DATE, "fct_orders", "restored", 2, "pinned back", "run-2", s)

    rows = _rows(s, layer="publish")
    assert sorted((r["dataset"], r["outcome"], r["table_version"]) for r in rows) == [
        ("dim_customers", "published", 5),
        ("fct_orders", "restored", 2),
        ("fct_orders", "withheld", 3),
    ]
    withheld = next(r for r in rows if r["outcome"] == "withheld")
    assert (withheld["detail"], withheld["run_id"], withheld["source"]) == (
        "status invalid (rerun)",
        "run-2",
        "publish",
    )
    assert json.loads(withheld["sample"]) == [{"order_id": 7, "status": "lost"}] * 5  # a few rows, not all
    with pytest.raises(ValueError, match="published, withheld or restored"):
        write_publish_decision(RUN_DATE, "fct_orders", "kept", None, "", None, s)  # type: ignore[arg-type]


def test_each_writer_replaces_only_its_own_layer(build_lake):
    settings = build_lake()
    write_volumes(RUN_DATE, settings)
    write_publish_decision(RUN_DATE, "fct_orders", "published", 1, "ok", None, settings)
    write_ledger(ScanReport(RUN_DATE, "raw", [_check("raw")]), RUN_DATE, settings)
    write_ledger(ScanReport(RUN_DATE, "marts", [_check("marts")]), RUN_DATE, settings)
    counts = {layer: len(_rows(settings, layer=layer)) for layer in ("volume", "publish", "raw", "marts")}

    write_drift([], RUN_DATE, settings)  # no drift tonight: removes only the date's ingest rows
    write_ledger(ScanReport(RUN_DATE, "all", [_check("raw"), _check("marts")]), RUN_DATE, settings)
    assert {layer: len(_rows(settings, layer=layer)) for layer in counts} == counts


def _check(layer: str, outcome: str = "passed") -> CheckRow:
    return CheckRow(layer, f"{layer}/x.yml", "x", "checks.row_count", "row_count", None, "Table has rows",
                    outcome, "blocking", 3.0)  # type: ignore[arg-type]  # fmt: skip


def test_a_ledger_of_the_first_schema_gets_the_new_columns_and_keeps_its_rows(lake_settings):
    settings = lake_settings
    old_schema = pa.schema(
        [f for f in LEDGER_SCHEMA if f.name not in ("source", "run_id", "table_version", "sample")]
    )
    old = [
        {"run_date": RUN_DATE, "layer": "raw", "contract": "raw/shop/orders.yml",
         "dataset": "raw_shop.orders", "check": "checks.row_count", "check_type": "row_count", "column": None,
         "check_name": "Table has rows",
         "outcome": "passed", "level": "blocking", "value": 4.0, "threshold": "> 0", "detail": None},
        {"run_date": RUN_DATE, "layer": "ingest", "contract": "ingestion/sources/shop.yml",
         "dataset": "raw_shop.orders", "check": "schema.drift", "check_type": "schema_drift", "column": None,
         "check_name": "new column x", "outcome": "warned", "level": "warn", "value": None, "threshold": None,
         "detail": "new column x"},
    ]  # fmt: skip
    write_deltalake(ledger_uri(settings), pa.Table.from_pylist(old, schema=old_schema))

    tomorrow = RUN_DATE + timedelta(days=1)
    write_publish_decision(tomorrow, "fct_orders", "withheld", 4, "failed checks", "run-9", settings)

    table = read_table(ledger_uri(settings), settings)
    assert table.schema == LEDGER_SCHEMA
    rows = sorted(table.to_pylist(), key=lambda r: r["layer"])
    assert [(r["layer"], r["source"], r["check_name"]) for r in rows] == [
        ("ingest", "ingest", "new column x"),
        ("publish", "publish", "fct_orders withheld"),
        ("raw", "soda", "Table has rows"),
    ]
    assert upgrade_ledger(settings) is False  # already current: nothing to do
