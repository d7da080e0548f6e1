"""The JSON fast path (DuckDB's JSON reader straight into text columns) reads exactly what the line-by-line
path reads, and a file it reads with a record to quarantine is read again for the record's exact line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

from ingestion.loader import ingest_source
from ingestion.readers import drop_landed_text, read_file
from ingestion.registry import Limits, load_source
from lakehouse.layout import landing_dir, quarantine_records, raw_table
from lakehouse.settings import Settings

DAY = date(2026, 5, 4)
SOURCE = """
name: feed
kind: files
entities:
  events:
    format: jsonl
    primary_key: [event_id]
    columns:
      event_id: bigint
      at: {type: timestamp, required: true}
      payload: json
      score: double
      label: string
      ok: boolean
  pages:
    format: json
    primary_key: [id]
    columns: {id: bigint, title: string, meta: json}
"""
CLEAN_EVENTS = (
    b'{"event_id": 1, "at": "2026-05-04T10:00:00Z", "payload": {"a": [1, 2.50]}, "score": 0.5}\n'
    b"\n"  # a blank line is not a record
    b'{"event_id": 2, "at": "2026-05-04 10:01:00+02", "payload": "text", "label": "caf\\u00e9 \\"q\\""}\n'
    b"   \n"
    b'{"label": "x", "event_id": 3, "at": "2026-05-04", "payload": null, "score": 1e3, "ok": true}\n'
    b'{"event_id": 4, "at": "2026-05-04T10:03:00Z", "payload": [1, {"b": null}], "score": -2, "ok": "no"}\n'
    b'{"event_id": 5, "at": "2026-05-04T10:04:00Z", "label": 42, "ok": 0}\r\n'
)
CLEAN_PAGES = b'[{"id": 1, "title": "one", "meta": {"k": 1}}, {"id": 2}, {"title": "three", "id": "3"}]'


@pytest.fixture
def feed(lake_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    registry = tmp_path / "sources"
    registry.mkdir()
    (registry / "feed.yml").write_text(SOURCE)
    monkeypatch.setenv("LAKEHOUSE_SOURCES_DIR", str(registry))
    Path(landing_dir("feed", DAY, lake_settings)).mkdir(parents=True)
    return Settings()


def write(settings: Settings, name: str, data: bytes) -> str:
    path = Path(landing_dir("feed", DAY, settings)) / name
    path.write_bytes(data)
    return str(path)


def read_fast(con: duckdb.DuckDBPyConnection) -> bool:
    """The fast path leaves `t` as a view over DuckDB's read; the exact path extracts into a table."""
    return con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 't'").fetchone() == (1,)


def both_reads(settings: Settings, entity: str, uri: str) -> tuple[list[tuple], list[tuple], bool]:
    """The records as each path reads them (without `_line`, which the fast path numbers differently for
    JSON lines), and whether the fast path was taken."""
    source = load_source(Path(settings.lakehouse_sources_dir) / "feed.yml")
    con = duckdb.connect()
    results = []
    fast_taken = False
    for text_path in (False, True):
        read = read_file(con, uri, source.entities[entity], Limits(), "t", text_path)
        fast_taken = fast_taken or (not text_path and read_fast(con))
        columns = ", ".join(f'"{c}"' for c in read.columns)
        results.append(con.execute(f"SELECT {columns} FROM t ORDER BY _line").fetchall())
        assert con.execute("SELECT count(*) FROM t_rejects").fetchone() == (0,)
        drop_landed_text(con, read)
    return results[0], results[1], fast_taken


@pytest.mark.parametrize(
    ("entity", "name", "data"),
    [("events", "events.jsonl", CLEAN_EVENTS), ("pages", "pages.json", CLEAN_PAGES)],
)
def test_the_fast_path_reads_the_same_values_as_the_exact_path(
    feed: Settings, entity: str, name: str, data: bytes
) -> None:
    fast, exact, fast_taken = both_reads(feed, entity, write(feed, name, data))
    assert fast_taken
    assert fast == exact
    assert len(fast) == (5 if entity == "events" else 3)


def test_a_clean_file_lands_through_the_fast_path_in_file_order(feed: Settings) -> None:
    write(feed, "events.jsonl", CLEAN_EVENTS)
    write(feed, "pages.json", CLEAN_PAGES)
    source = load_source(Path(feed.lakehouse_sources_dir) / "feed.yml")
    report = ingest_source(source, DAY, feed)
    assert not report.has_problems, report.problems()
    events = DeltaTable(raw_table("feed", "events", feed)).to_pyarrow_table()
    assert events["event_id"].to_pylist() == [1, 2, 3, 4, 5]
    assert events["label"].to_pylist() == [None, 'café "q"', "x", None, "42"]
    assert events["ok"].to_pylist() == [None, None, True, False, False]
    assert events["payload"].to_pylist() == ['{"a":[1,2.5]}', '"text"', None, '[1,{"b":null}]', None]


def test_a_quarantined_record_after_blank_lines_keeps_its_exact_line(feed: Settings) -> None:
    """The fast path numbers records (DuckDB skips blank lines); the file is read again for the line."""
    bad = CLEAN_EVENTS.replace(b'"score": -2', b'"score": "minus two"')
    write(feed, "events.jsonl", bad)
    source = load_source(Path(feed.lakehouse_sources_dir) / "feed.yml")
    report = ingest_source(source, DAY, feed, entities=["events"])
    rows = DeltaTable(quarantine_records("feed", feed)).to_pyarrow_table().to_pylist()
    assert [(r["record_number"], r["location"]) for r in rows] == [(6, "line 6")]
    assert rows[0]["reason"] == "score: 'minus two' is not a valid DOUBLE"
    assert '"event_id":"4"' in rows[0]["record"]
    events = DeltaTable(raw_table("feed", "events", feed)).to_pyarrow_table()
    assert events["event_id"].to_pylist() == [1, 2, 3, 5]
    assert report.has_problems and "events.jsonl line 6 (event_id=4)" in " ".join(report.problems())


@pytest.mark.parametrize(
    "extra",
    [
        b'{"event_id": 9, "at": "2026-05-04", "new_key": 1}\n',
        b"null\n",
        b'{"event_id": 9, "event_id": 10, "at": "2026-05-04"}\n',
    ],
    ids=["undeclared key", "not an object", "duplicate key"],
)
def test_what_the_fast_path_cannot_read_exactly_goes_the_exact_way(feed: Settings, extra: bytes) -> None:
    uri = write(feed, "events.jsonl", CLEAN_EVENTS + extra)
    source = load_source(Path(feed.lakehouse_sources_dir) / "feed.yml")
    con = duckdb.connect()
    read = read_file(con, uri, source.entities["events"], Limits(), "t")
    assert not read_fast(con) and read.exact_lines


def test_timestamps_are_accepted_up_to_the_last_utc_day_of_the_limits(feed: Settings) -> None:
    """The date limits apply to a timestamp's UTC day (compared as instants, not cast to a date)."""
    records = [
        (1, "1899-12-31T23:59:59Z"),
        (2, "1900-01-01T00:00:00Z"),
        (3, "1900-01-01T00:30:00+01:00"),  # 1899-12-31 23:30 UTC
        (4, "2200-12-31T23:59:59.999999Z"),
        (5, "2201-01-01T00:00:00Z"),
        (6, "2201-01-01T00:30:00+01:00"),  # 2200-12-31 23:30 UTC
    ]
    data = "".join(f'{{"event_id": {i}, "at": "{at}"}}\n' for i, at in records).encode()
    write(feed, "events.jsonl", data)
    source = load_source(Path(feed.lakehouse_sources_dir) / "feed.yml")
    ingest_source(source, DAY, feed, entities=["events"])
    rows = DeltaTable(quarantine_records("feed", feed)).to_pyarrow_table().to_pylist()
    assert sorted(r["record_number"] for r in rows) == [1, 3, 5]
    assert all("is outside the accepted dates 1900-01-01 to 2200-12-31" in r["reason"] for r in rows)
    events = DeltaTable(raw_table("feed", "events", feed)).to_pyarrow_table()
    assert events["event_id"].to_pylist() == [2, 4, 6]
