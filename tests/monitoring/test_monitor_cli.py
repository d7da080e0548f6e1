"""`lakehouse monitor`: the checks of a date in the terminal; exit 1 on findings, 2 on a usage error."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lakehouse.settings import Settings
from orchestration.monitor_cli import monitor_app
from quality.html_report import read_ledger


def test_an_empty_lake_is_a_freshness_finding_for_every_table(lake_settings: Settings) -> None:
    result = CliRunner().invoke(monitor_app, ["--date", "2026-11-20", "--json", "--record"])
    assert result.exit_code == 1, result.output
    checks = json.loads(result.output)["checks"]
    stale = {c["dataset"] for c in checks if c["kind"] == "freshness_breach" and c["outcome"] == "warned"}
    assert {"raw_shop.orders", "fct_orders"} <= stale
    ledger = read_ledger(lake_settings)
    assert ledger is not None and "monitor" in ledger.column("layer").to_pylist()


def test_a_bad_date_is_a_usage_error(lake_settings: Settings) -> None:
    result = CliRunner().invoke(monitor_app, ["--date", "2026-13-01"])
    assert result.exit_code == 2 and "is not a date" in result.output
