"""`lakehouse run` shows a line per stage (Prefect's logs only with --verbose, always in the log file), and
`lakehouse status` is green after a clean run and red (exit 1) after a blocking failure."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from lakehouse_cli import lakehouse

from ingestion.shop.generator import generate_landing

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 20)


def _log_file(stdout: str) -> Path:
    (line,) = [line for line in stdout.splitlines() if line.startswith("log: ")]
    return Path(line.removeprefix("log: ").strip())


def _corrupt_orders(settings, day: date) -> None:
    """The orders file of `day` repeats some order ids: the raw gate's blocking duplicate check fails."""
    generate_landing(day, scale=0.1, settings=settings)
    orders = Path(settings.uri("landing", "shop", day.isoformat(), "orders.jsonl"))
    lines = orders.read_text().splitlines()
    orders.write_text("\n".join(lines + lines[:3]) + "\n")


def test_run_output_and_status_follow_the_outcome(prefect_api, lake_settings):
    clean = lakehouse(
        lake_settings, prefect_api, "run", "--date", DAY.isoformat(), "--scale", "0.1", "--verbose"
    )
    assert clean.returncode == 0, (clean.stdout + clean.stderr)[-5000:]
    for stage in ("ingest", "raw gate", "dbt", "marts gate", "publish", "features"):
        assert f"✓ {stage} " in clean.stdout, clean.stdout
    assert "prefect.flow_runs" in clean.stderr  # --verbose: Prefect's (and dbt's) logs on the terminal
    log = _log_file(clean.stdout).read_text()
    assert "prefect.flow_runs" in log and "prefect.task_runs" in log  # the flows' and dbt's task logs

    status = lakehouse(lake_settings, None, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    state = json.loads(status.stdout)
    assert state["red"] is False and state["runs"][0]["outcome"] == "succeeded"
    orders = next(t for t in state["tables"] if t["dataset"] == "raw_shop.orders")
    assert orders["rows"] > 0 and orders["version"] >= 0 and orders["fresh"] is True

    failing_day = DAY + timedelta(days=1)
    _corrupt_orders(lake_settings, failing_day)
    failed = lakehouse(lake_settings, prefect_api, "run", "--date", failing_day.isoformat(), "--no-generate")
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output[-5000:]
    assert "Traceback" not in output and "prefect.flow_runs" not in output, output
    assert len(output.splitlines()) < 40, output
    assert "raw quality gate" in output and "duplicate" in output and "log: " in output
    assert "prefect.flow_runs" in _log_file(failed.stdout).read_text()

    status = lakehouse(lake_settings, None, "status")
    assert status.returncode == 1, status.stdout + status.stderr
    assert f"the last run ({failing_day}) failed" in status.stdout
    assert "raw_shop.orders: open failure" in status.stdout and "Status: red" in status.stdout
