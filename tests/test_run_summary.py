"""The run summary's stage timings and its JSON copy in the lake (ops/runs/<date>/<run id>.json)."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest

from lakehouse.layout import run_summary_file
from lakehouse.settings import get_settings
from lakehouse.transform import DbtSummary
from orchestration.summary import RunSummary


def test_timed_records_each_stage_in_order_also_when_it_raises():
    summary = RunSummary(date(2026, 11, 20), "/lake", "/cat.duckdb")
    with summary.timed("ingest"):
        time.sleep(0.02)
    with pytest.raises(ValueError), summary.timed("dbt"):
        raise ValueError("boom")
    assert list(summary.stage_seconds) == ["ingest", "dbt"]
    assert summary.stage_seconds["ingest"] >= 0.02


def test_json_round_trips_counts_dates_and_seconds():
    summary = RunSummary(date(2026, 11, 20), "/lake", "/cat.duckdb", run_id="r1")
    summary.dbt = DbtSummary(models_built=16, tests_passed=90, samples={"t": [{"a": 1}]})
    summary.stage_seconds = {"ingest": 1.5, "dbt": 3.25}
    summary.problems.append("raw/shop/orders: 2 records quarantined")
    data = json.loads(summary.to_json())
    assert data["run_date"] == "2026-11-20"
    assert data["stage_seconds"] == {"ingest": 1.5, "dbt": 3.25}
    assert data["dbt"]["models_built"] == 16 and "samples" not in data["dbt"]
    assert data["ok"] is False and data["seconds"] >= 0


def test_run_summary_file_is_under_ops_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    uri = run_summary_file(date(2026, 11, 20), "abc", get_settings())
    assert uri == str(tmp_path / "lake" / "ops" / "runs" / "2026-11-20" / "abc.json")
