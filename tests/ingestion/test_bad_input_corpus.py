"""A bad-input corpus through a registered files source that is not the shop: every defect costs one record
(with its line and reason), the good records land, and the command exits non-zero naming file and fix."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable

from ingestion.loader import ingest_source
from ingestion.registry import load_source
from lakehouse.layout import landing_dir, quarantine_records, raw_table
from lakehouse.settings import PROJECT_DIR, Settings

DAY = date(2026, 5, 4)
SOURCE = {
    "name": "corpus",
    "kind": "files",
    "limits": {"max_field_bytes": 200},
    "entities": {
        "accounts": {
            "format": "csv",
            "primary_key": ["region", "account_no"],
            "columns": {
                "region": "string",
                "account_no": "integer",
                "balance": {"type": "decimal(12,2)", "required": True},
                "opened_on": "date",
                "active": "boolean",
                "note": "string",
            },
        },
        "events": {
            "format": "jsonl",
            "primary_key": ["event_id"],
            "columns": {
                "event_id": "bigint",
                "at": {"type": "timestamp", "required": True},
                "payload": "json",
                "score": "double",
            },
        },
        "pages": {"format": "json", "primary_key": ["id"], "columns": {"id": "bigint", "title": "string"}},
    },
}
ACCOUNTS = (
    b"""region,account_no,balance,opened_on,active,note,tier
eu,1,10.50,2020-01-31,true,ok,gold
eu,2,abc,2020-02-01,false,wrong type,silver
eu,3,1.234,2020-02-02,true,too many decimals,
eu,4,5.00,2020-02-30,true,no such date,
eu,5,6.00,2020-02-03 10:00:00,true,timestamp for a date,
eu,6,7.00,0024-01-01,true,year out of range,
eu,7,8.00,2020-02-04,true,too,many,fields
eu,8,9.00,2020-02-05,true,caf\xe9 latin-1 byte,
eu,9,1.00,2020-02-06,true,"""
    + b"x" * 300
    + b""",
us,1,2.00,2020-02-07,false,same account number in another region,
us,2,3.00,02/08/2020,true,US date format,
us,3,4.00,2020-02-09,maybe,not a boolean,
us,4,,2020-02-10,true,missing required balance,
us,5,12345678901.00,2020-02-11,true,over the precision,
us,6,99.99,2020-02-12,true,last good line,
"""
)
EVENTS = (
    b'{"event_id": 1, "at": "2026-05-04T10:00:00Z", "payload": {"a": [1, 2]}, "score": 0.5}\n'
    b'{"event_id": 2, "at": "2026-05-04T10:01:00Z", "payload": {"a": 1}, "sco\n'
    b'{"event_id": 3, "at": "not a time"}\n'
    b"[1, 2, 3]\n"
    b"\n"
    b'{"event_id": 4, "at": "2026-05-04T10:02:00+02:00", "payload": "text", "new_field": "hello"}\n'
    b'{"event_id": 5, "at": "2026-05-04T10:03:00Z", "score": "high"}\n'
    b'{"event_id": 6, "at": "2026-05-04T10:04:00Z", "payload": null, "score": 1e3}\n'
)
PAGES = b'[{"id": 1, "title": "one"}, {"id": "two"}, {"id": 3, "title": "three"}]'


@pytest.fixture
def corpus(lake_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    registry = tmp_path / "sources"
    registry.mkdir()
    (registry / "corpus.yml").write_text(yaml.safe_dump(SOURCE, sort_keys=False))
    monkeypatch.setenv("LAKEHOUSE_SOURCES_DIR", str(registry))
    folder = Path(landing_dir("corpus", DAY, lake_settings))
    folder.mkdir(parents=True)
    (folder / "accounts.csv").write_bytes(ACCOUNTS)
    (folder / "events.jsonl").write_bytes(EVENTS)
    (folder / "pages.json").write_bytes(PAGES)
    return Settings()


def quarantined(settings: Settings) -> dict[tuple[str, int], str]:
    rows = DeltaTable(quarantine_records("corpus", settings)).to_pyarrow_table().to_pylist()
    return {(r["entity"], r["record_number"]): r["reason"] for r in rows}


def test_every_defect_costs_one_record_with_its_line_and_reason(corpus: Settings) -> None:
    source = load_source(Path(corpus.lakehouse_sources_dir) / "corpus.yml")
    report = ingest_source(source, DAY, corpus)
    reasons = quarantined(corpus)
    expected = {
        ("accounts", 3): "balance: 'abc' is not a valid DECIMAL(12,2)",
        ("accounts", 4): "balance: '1.234' has more than 2 decimals",
        ("accounts", 5): "opened_on: '2020-02-30' is not a valid DATE",
        ("accounts", 6): "opened_on: '2020-02-03 10:00:00' is a timestamp, not a DATE",
        ("accounts", 7): "opened_on: '0024-01-01' is outside the accepted dates 1900-01-01 to 2200-12-31",
        ("accounts", 8): "more fields than the header",
        ("accounts", 9): "not valid UTF-8 text",
        ("accounts", 10): "note: value of 300 bytes is over the limit of 200 bytes",
        ("accounts", 12): "opened_on: '02/08/2020' is not a valid DATE",
        ("accounts", 13): "active: 'maybe' is not a valid BOOLEAN",
        ("accounts", 14): "balance: missing (required)",
        ("accounts", 15): "balance: '12345678901.00' is not a valid DECIMAL(12,2)",
        ("events", 2): "not valid JSON (truncated or malformed)",
        ("events", 3): "at: 'not a time' is not a valid TIMESTAMPTZ",
        ("events", 4): "not a JSON object but ARRAY",
        ("events", 7): "score: 'high' is not a valid DOUBLE",
        ("pages", 2): "id: 'two' is not a valid BIGINT",
    }
    assert set(reasons) == set(expected)
    for key, reason in expected.items():
        assert reasons[key].startswith(reason), (key, reasons[key])

    accounts = DeltaTable(raw_table("corpus", "accounts", corpus)).to_pyarrow_table()
    assert accounts.schema.field("balance").type.equals(__import__("pyarrow").decimal128(12, 2))
    keys = sorted(zip(accounts["region"].to_pylist(), accounts["account_no"].to_pylist(), strict=True))
    assert keys == [("eu", 1), ("us", 1), ("us", 6)]  # the composite key keeps eu/1 and us/1 apart
    assert accounts.filter(__import__("pyarrow").compute.equal(accounts["region"], "us"))[
        "balance"
    ].to_pylist() == [Decimal("2.00"), Decimal("99.99")]
    assert "tier" in accounts.schema.names  # an undeclared column lands (schema merge) and is reported
    assert report.entities["accounts"].added_columns == {"tier": "VARCHAR"}

    events = DeltaTable(raw_table("corpus", "events", corpus)).to_pyarrow_table().sort_by("event_id")
    assert events["event_id"].to_pylist() == [1, 4, 6]
    assert json.loads(events["payload"][0].as_py()) == {"a": [1, 2]}
    assert str(events["at"][1].as_py()) == "2026-05-04 08:02:00+00:00"
    assert events["new_field"].to_pylist() == [None, "hello", None]
    assert report.entities["pages"].rows_landed == 2

    problems = " ".join(report.problems())
    assert "accounts.csv line 3 (region=eu, account_no=2): balance: 'abc'" in problems
    assert "events.jsonl line 2: not valid JSON" in problems and "fix the source record" in problems


def test_a_rerun_lands_nothing_twice(corpus: Settings) -> None:
    source = load_source(Path(corpus.lakehouse_sources_dir) / "corpus.yml")
    ingest_source(source, DAY, corpus)
    before = {n: DeltaTable(raw_table("corpus", n, corpus)).version() for n in SOURCE["entities"]}
    again = ingest_source(source, DAY, corpus)
    assert all(e.skipped_already_loaded for e in again.entities.values())
    assert {n: DeltaTable(raw_table("corpus", n, corpus)).version() for n in SOURCE["entities"]} == before
    assert len(quarantined(corpus)) == 17


def test_the_command_exits_non_zero_naming_the_file_and_the_fix(corpus: Settings, tmp_path: Path) -> None:
    flow_file = PROJECT_DIR / "orchestration" / "flows" / "etl" / "s3_data_pipeline.py"
    env = {**__import__("os").environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    result = subprocess.run(
        [sys.executable, str(flow_file), "--date", DAY.isoformat(), "--sources", "corpus"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "accounts.csv line 3 (region=eu, account_no=2)" in result.stderr
    assert "fix the source record" in result.stderr and "more quarantined records" in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("s3-data-pipeline failed:")]
    assert len(ours) == 1, result.stderr[-3000:]  # the command's own word, one line (Prefect's log around it)
    assert ours[0].startswith("s3-data-pipeline failed: IngestionProblems: accounts.csv line 3"), ours[0]


def test_an_empty_file_keeps_its_batch_open_until_the_corrected_file_lands(corpus: Settings) -> None:
    source = load_source(Path(corpus.lakehouse_sources_dir) / "corpus.yml")
    pages = Path(landing_dir("corpus", DAY, corpus)) / "pages.json"
    pages.write_bytes(b"[]")
    first = ingest_source(source, DAY, corpus, entities=["pages"])
    assert first.has_problems and first.entities["pages"].empty_files == ["pages.json"]
    assert not DeltaTable.is_deltatable(raw_table("corpus", "pages", corpus))
    pages.write_bytes(PAGES)
    second = ingest_source(source, DAY, corpus, entities=["pages"])
    assert second.entities["pages"].rows_landed == 2
