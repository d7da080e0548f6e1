"""The database source kind against a real Postgres: windows of timestamps and ids, landed as Parquet."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from ingestion.database_source import (
    DatabaseSourceError,
    dsn_password,
    fetch_database,
    mask_dsn,
    redact,
    window_sql,
)
from ingestion.loader import ingest_source
from ingestion.registry import Source
from ingestion.windows import Window
from lakehouse.lake import duckdb_session, read_table
from lakehouse.layout import raw_table

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
ENV = "SHOP_DB_DSN"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def orders_source(schema: str) -> Source:
    return Source.model_validate(
        {
            "name": "shop_db",
            "kind": "database",
            "database": {"type": "postgres", "dsn_env": ENV, "schema": schema},
            "entities": {
                "orders": {
                    "format": "parquet",
                    "table": "sales_orders",
                    "primary_key": ["region", "order_id"],
                    "incremental_column": "updated_at",
                    "columns": {
                        "region": "string",
                        "order_id": "bigint",
                        "amount": "decimal(12,2)",
                        "placed_at": "timestamp",
                        "ship_date": "date",
                        "paid": "boolean",
                        "attrs": "json",
                        "tags": "json",
                        "updated_at": {"type": "timestamp", "required": True},
                    },
                },
                "events": {
                    "format": "parquet",
                    "primary_key": ["id"],
                    "incremental_column": "id",
                    "columns": {"id": "bigint", "kind": "string", "payload": "json"},
                },
            },
        }
    )


ORDERS_DDL = """
CREATE TABLE sales_orders (
    region text, order_id bigint, amount numeric(12,2), placed_at timestamptz, ship_date date, paid boolean,
    attrs json, tags jsonb, updated_at timestamptz NOT NULL, internal_note text,
    PRIMARY KEY (region, order_id)
);
CREATE TABLE events (id bigserial PRIMARY KEY, kind text, payload jsonb);
"""
ORDER_ROWS = [  # region, order_id, amount, placed_at, ship_date, paid, attrs, tags, updated_at
    ("eu", 1, "1234567890.12", "2026-02-27 10:00+01", "2026-03-03", True, '{"a": 1}', '{"b": [1, 2]}',
     "2026-02-28 08:00+00"),
    ("eu", 2, "-0.05", "2026-03-01 00:00+00", None, False, None, "[]", "2026-03-01 00:00:00+00"),
    ("us", 1, "0.00", "2026-03-01 12:00-05", "2026-03-01", None, '{"x": "ü"}', '{"k": null}',
     "2026-03-01 23:59:59.999999+00"),
    ("us", 2, "99.99", "2026-03-01 20:00+00", None, True, "{}", "{}", "2026-03-02 00:00:00+00"),
    ("eu", 3, "5.50", "2026-03-02 18:00+00", None, True, "{}", "{}", "2026-03-03 09:00+00"),
]  # fmt: skip


@pytest.fixture
def pg(postgres_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[psycopg.Connection, str]]:
    """A connection to a fresh schema of the test server (its DSN exported as SHOP_DB_DSN)."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv(ENV, postgres_dsn)
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"SET search_path TO {schema}")
        con.execute(ORDERS_DDL)
        yield con, schema
        con.execute(f"DROP SCHEMA {schema} CASCADE")


def insert_orders(con: psycopg.Connection, rows: list[tuple]) -> None:
    with con.cursor() as cur:
        cur.executemany(
            "INSERT INTO sales_orders VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'secret')", rows
        )


def landed(uri: str) -> list[dict]:
    return pq.read_table(uri).to_pylist()


def keys(rows: list[dict]) -> list[tuple[str, int]]:
    return [(r["region"], r["order_id"]) for r in rows]


@pytest.mark.integration
def test_initial_window_lands_exactly_its_rows_with_their_types(pg, lake_settings):
    con, schema = pg
    insert_orders(con, ORDER_ROWS)
    report = fetch_database(orders_source(schema), D1, lake_settings, entities=["orders"])

    fetch = report.entities["orders"]
    assert fetch.window == Window("1970-01-01T00:00:00Z", "2026-03-02T00:00:00Z")
    assert fetch.records == 3 and not fetch.reused_window
    assert fetch.files == [str(Path(lake_settings.root) / "landing/shop_db/2026-03-01/orders.parquet")]
    schema_ = pq.read_schema(fetch.files[0])
    assert schema_.names == list(orders_source(schema).entities["orders"].columns)  # not internal_note
    assert schema_.field("amount").type == pa.decimal128(12, 2)
    assert schema_.field("updated_at").type == pa.timestamp("us", tz="UTC")
    assert schema_.field("ship_date").type == pa.date32()
    assert schema_.field("paid").type == pa.bool_()

    rows = landed(fetch.files[0])  # ordered by updated_at, then the key; [start, end) excludes 03-02 00:00
    assert keys(rows) == [("eu", 1), ("eu", 2), ("us", 1)]
    assert rows[0] == {
        "region": "eu",
        "order_id": 1,
        "amount": Decimal("1234567890.12"),
        "placed_at": ts("2026-02-27T09:00:00+00:00"),
        "ship_date": date(2026, 3, 3),
        "paid": True,
        "attrs": '{"a": 1}',
        "tags": '{"b": [1, 2]}',
        "updated_at": ts("2026-02-28T08:00:00+00:00"),
    }
    assert rows[1]["amount"] == Decimal("-0.05") and rows[1]["ship_date"] is None and rows[1]["attrs"] is None
    assert rows[2]["placed_at"] == ts("2026-03-01T17:00:00+00:00") and rows[2]["paid"] is None
    assert json.loads(rows[2]["attrs"]) == {"x": "ü"} and json.loads(rows[2]["tags"]) == {"k": None}
    assert rows[2]["updated_at"] == ts("2026-03-01T23:59:59.999999+00:00")


@pytest.mark.integration
def test_next_window_has_exactly_the_new_and_changed_rows_and_a_rerun_the_same(pg, lake_settings):
    con, schema = pg
    source = orders_source(schema)
    insert_orders(con, ORDER_ROWS)
    first = fetch_database(source, D1, lake_settings, ["orders"]).entities["orders"]
    first_rows = landed(first.files[0])

    con.execute(
        "UPDATE sales_orders SET amount = 7.25, paid = true, updated_at = '2026-03-02 10:00+00' "
        "WHERE region = 'eu' AND order_id = 2"
    )
    insert_orders(
        con, [("us", 9, "1.00", "2026-03-02 11:00+00", None, False, "{}", "{}", "2026-03-02 12:00+00")]
    )
    second = fetch_database(source, D2, lake_settings, ["orders"]).entities["orders"]
    assert second.window == Window("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
    rows = landed(second.files[0])
    assert keys(rows) == [("us", 2), ("eu", 2), ("us", 9)]  # eu/3 is in the next window
    assert rows[1]["amount"] == Decimal("7.25") and rows[1]["paid"] is True

    again = fetch_database(source, D1, lake_settings, ["orders"]).entities["orders"]
    assert again.reused_window and again.window == first.window and again.records == 3
    assert landed(again.files[0]) == first_rows  # the delivered file is kept as it was

    Path(first.files[0]).unlink()  # lost landing file: the same window is extracted again
    redone = fetch_database(source, D1, lake_settings, ["orders"]).entities["orders"]
    assert redone.reused_window and redone.window == first.window
    assert keys(landed(redone.files[0])) == [("eu", 1), ("us", 1)]  # eu/2 has moved to D2's window


@pytest.mark.integration
def test_id_watermark_windows_end_at_the_max_id_of_the_first_pull(pg, lake_settings):
    con, schema = pg
    source = orders_source(schema)
    add = "INSERT INTO events (kind, payload) VALUES (%s, %s)"
    with con.cursor() as cur:
        cur.executemany(add, [("click", '{"n": 1}'), ("view", None), ("buy", '{"sku": "A"}')])
    first = fetch_database(source, D1, lake_settings, ["events"]).entities["events"]
    assert first.window == Window("0", "3") and first.records == 3
    assert landed(first.files[0]) == [
        {"id": 1, "kind": "click", "payload": '{"n": 1}'},
        {"id": 2, "kind": "view", "payload": None},
        {"id": 3, "kind": "buy", "payload": '{"sku": "A"}'},
    ]

    with con.cursor() as cur:
        cur.executemany(add, [("view", None), ("click", None)])
    second = fetch_database(source, D2, lake_settings, ["events"]).entities["events"]
    assert second.window == Window("3", "5")  # start < id <= end
    assert [r["id"] for r in landed(second.files[0])] == [4, 5]

    con.execute(add, ("late", None))
    Path(first.files[0]).unlink()
    redone = fetch_database(source, D1, lake_settings, ["events"]).entities["events"]
    assert redone.window == Window("0", "3") and [r["id"] for r in landed(redone.files[0])] == [1, 2, 3]

    empty = fetch_database(source, D3, lake_settings, ["events"]).entities["events"]
    assert empty.window == Window("5", "6") and empty.records == 1


@pytest.mark.integration
def test_both_entities_in_one_fetch(pg, lake_settings):
    con, schema = pg
    insert_orders(con, ORDER_ROWS[:1])
    report = fetch_database(orders_source(schema), D1, lake_settings)
    assert {n: e.records for n, e in report.entities.items()} == {"orders": 1, "events": 0}
    assert pq.read_table(report.entities["events"].files[0]).num_rows == 0
    assert "orders: 1 records in 1 files" in report.summary()


@pytest.mark.integration
def test_lands_on_s3_and_a_rerun_keeps_the_file(pg, s3_settings):
    con, schema = pg
    insert_orders(con, ORDER_ROWS)
    source = orders_source(schema)
    first = fetch_database(source, D1, s3_settings, ["orders"]).entities["orders"]
    assert first.files == [f"{s3_settings.root}/landing/shop_db/2026-03-01/orders.parquet"]
    with duckdb_session(settings=s3_settings) as duck:
        rows = duck.execute("SELECT region, order_id FROM read_parquet(?)", first.files).fetchall()
    assert rows == [("eu", 1), ("eu", 2), ("us", 1)]
    again = fetch_database(source, D1, s3_settings, ["orders"]).entities["orders"]
    assert again.reused_window and again.records == 3


@pytest.mark.integration
def test_fetched_windows_load_into_the_raw_table(pg, lake_settings):
    con, schema = pg
    source = orders_source(schema)
    insert_orders(con, ORDER_ROWS)
    fetch_database(source, D1, lake_settings, ["orders"])
    report = ingest_source(source, D1, lake_settings, ["orders"])
    assert not report.has_problems, report.problems()
    raw = read_table(raw_table("shop_db", "orders", lake_settings), lake_settings)
    assert raw.schema.field("amount").type == pa.decimal128(12, 2)
    assert sorted(zip(raw["region"].to_pylist(), raw["order_id"].to_pylist(), strict=True)) == [
        ("eu", 1),
        ("eu", 2),
        ("us", 1),
    ]


def _assert_secret_kept(text: str, dsn: str, password: str) -> None:
    assert dsn not in text
    assert password not in text


@pytest.mark.integration
@pytest.mark.parametrize("case", ["wrong_password", "unreachable"])
def test_connection_failures_name_the_source_but_never_the_dsn(
    case, postgres_dsn, lake_settings, monkeypatch, caplog, capsys
):
    password = "Wr0ng-Pa55-phrase"
    port = postgres_dsn.rsplit(":", 1)[1].split("/")[0]
    if case == "unreachable":
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = str(s.getsockname()[1])
    dsn = f"postgresql://lake_reader:{password}@127.0.0.1:{port}/shop?connect_timeout=10"
    monkeypatch.setenv(ENV, dsn)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(DatabaseSourceError) as raised:
        fetch_database(orders_source("public"), D1, lake_settings, ["orders"])

    message = str(raised.value)
    assert "source shop_db, entity orders" in message and "public.sales_orders" in message
    assert "postgresql://lake_reader:***@127.0.0.1:" in message and ENV in message
    expected = "password authentication failed" if case == "wrong_password" else "Connection refused"
    assert expected in message
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    out = capsys.readouterr()
    for text in (message, repr(raised.value), caplog.text, out.out, out.err):
        _assert_secret_kept(text, dsn, password)


def test_a_missing_dsn_variable_names_it(lake_settings, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(DatabaseSourceError, match=f"environment variable {ENV} .* is not set"):
        fetch_database(orders_source("public"), D1, lake_settings, ["orders"])


def test_a_database_entity_must_land_parquet():
    data = orders_source("public").model_dump(by_alias=True)
    data["entities"]["orders"]["format"] = "csv"
    with pytest.raises(ValueError, match="entity orders: a database source lands as parquet"):
        Source.model_validate(data)


def test_a_watermark_must_be_a_timestamp_or_an_integer(lake_settings, monkeypatch):
    monkeypatch.setenv(ENV, "postgresql://u:p@127.0.0.1:1/db")
    data = orders_source("public").model_dump(by_alias=True)
    data["entities"]["orders"]["incremental_column"] = "region"
    with pytest.raises(
        DatabaseSourceError, match="incremental_column 'region' is string; declare a timestamp"
    ):
        fetch_database(Source.model_validate(data), D1, lake_settings, ["orders"])


@pytest.mark.parametrize(
    ("dsn", "password", "masked"),
    [
        ("postgresql://u:p%40ss%3Aw@h:5432/db", "p@ss:w", "postgresql://u:***@h:5432/db"),
        (
            "postgres://u@h/db?sslmode=require&password=pw1",
            "pw1",
            "postgres://u@h/db?sslmode=require&password=***",
        ),
        (
            "host=h user=u password='it\\'s a secret' dbname=db",
            "it's a secret",
            "host=h user=u password=*** dbname=db",
        ),
        ("host=h password = plain port=5432", "plain", "host=h password = *** port=5432"),
        ("postgresql://u@h/db", None, "postgresql://u@h/db"),
    ],
)
def test_dsn_masking(dsn, password, masked):
    assert dsn_password(dsn) == password
    assert mask_dsn(dsn) == masked
    leaked = redact(f"failed at {dsn!r} and {dsn}", dsn)
    assert (password is None or password not in leaked) and (masked == dsn or dsn not in leaked)


def test_window_sql_is_half_open_for_times_and_closed_above_for_ids():
    source = orders_source("sales")
    config = source.database
    assert config is not None
    orders, events = source.entities["orders"], source.entities["events"]
    sql = window_sql(config, orders, Window("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"), "time")
    assert sql.endswith(
        'FROM "sales"."sales_orders" WHERE "updated_at" >= \'2026-03-01T00:00:00Z\' '
        'AND "updated_at" < \'2026-03-02T00:00:00Z\' ORDER BY "updated_at", "region", "order_id"'
    )
    assert window_sql(config, events, Window("3", "5"), "id") == (
        'SELECT "id", "kind", "payload" FROM "sales"."events" WHERE "id" > 3 AND "id" <= 5 ORDER BY "id"'
    )


def test_the_example_source_file_is_a_valid_database_source():
    example = Path(__file__).parents[2] / "ingestion/sources/examples/shop_db.yml.example"
    source = Source.model_validate(yaml.safe_load(example.read_text()))
    assert source.kind == "database" and source.database is not None
    assert source.database.dsn_env == "SHOP_DB_DSN" and source.database.schema_name == "sales"
    assert {e.format for e in source.entities.values()} == {"parquet"}
