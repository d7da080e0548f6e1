"""`lakehouse backfill`: 7 dates in order, each once; killed in the middle of a date and rerun, it lands the
same lake as an uninterrupted backfill; rerunning the first date afterwards leaves its features and its
quality-ledger rows as they were."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from lakehouse_cli import LAKEHOUSE, cli_env, lakehouse, rows_of_date, sorted_rows

from lakehouse.layout import quality_ledger
from lakehouse.runs import completed_dates
from lakehouse.settings import Settings
from ml.features import feature_table_uri
from orchestration.status import status_tables

pytestmark = pytest.mark.integration
START = date(2026, 11, 2)
END = START + timedelta(days=6)
ARGS = ("backfill", "--from", START.isoformat(), "--to", END.isoformat(), "--scale", "0.2")
LEASE = {"LAKEHOUSE_LEASE_SECONDS": "30"}  # a killed backfill's lease expires in 30 s

NOT_MONITOR = "layer != 'monitor'"


def _lake(tmp_path: Path, name: str) -> Settings:
    return Settings(
        lakehouse_root=str(tmp_path / name / "lake"),
        lakehouse_catalog=str(tmp_path / name / "catalog" / "lakehouse.duckdb"),
    )


def _start(settings: Settings, prefect_api: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(LAKEHOUSE), *ARGS],
        env=cli_env(settings, prefect_api, **LEASE),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed as a whole, as a crash would
    )


def _kill_during_a_date(proc: subprocess.Popen[str], settings: Settings) -> set[date]:
    """SIGKILL the backfill's process tree in the middle of a date, once two dates are complete; returns the
    dates complete by then."""
    deadline = time.monotonic() + 3600
    while True:
        assert proc.poll() is None, f"the backfill ended before it was killed:\n{proc.stdout.read()}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "two dates did not complete in an hour"
        done = completed_dates(settings)
        started = max(done, default=START) + timedelta(days=1)
        if len(done) >= 2 and started <= END and Path(settings.uri("landing", "shop", str(started))).exists():
            break
        time.sleep(0.5)
    time.sleep(3)  # inside that date's ingestion or build
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return completed_dates(settings)


def test_killed_backfill_resumes_to_the_lake_of_an_uninterrupted_one(prefect_api, tmp_path):
    straight, killed = _lake(tmp_path, "straight"), _lake(tmp_path, "killed")
    uninterrupted = lakehouse(straight, prefect_api, *ARGS)
    assert uninterrupted.returncode == 0, (uninterrupted.stdout + uninterrupted.stderr)[-5000:]
    assert uninterrupted.stdout.count("succeeded") >= 7, uninterrupted.stdout

    done = _kill_during_a_date(_start(killed, prefect_api), killed)
    assert 2 <= len(done) < 7, done

    resumed = lakehouse(killed, prefect_api, *ARGS, "--wait", **LEASE)
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-5000:]
    lines = output.splitlines()
    for n in range(7):
        day = (START + timedelta(days=n)).isoformat()
        (line,) = [line for line in lines if line.startswith(day)]  # one line per date, each date once
        assert ("skipped" if START + timedelta(days=n) in done else "succeeded") in line, output
    assert "Traceback" not in output and "| INFO" not in output and len(lines) < 20, output
    assert completed_dates(killed) == {START + timedelta(days=n) for n in range(7)}

    # every raw table, mart and the features: the same rows. No column is left out: _ingested_at is the
    # batch's date, not the wall clock (the marts carry only it); _source_file names the lake's own folder
    tables = status_tables(straight)
    assert len(tables) == len(status_tables(killed)) >= 10
    for name, uri in tables.items():
        other = uri.replace(straight.root, killed.root)
        same = sorted_rows(uri, straight.root).equals(sorted_rows(other, killed.root))
        assert same, f"{name} differs after the resumed backfill"

    # green after the clean backfill
    status = lakehouse(straight, None, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr

    # rerunning the first date after the later ones: its features and ledger rows stay the night's
    features_before = rows_of_date(feature_table_uri(killed), "as_of_date", START)
    # the monitor's rows record what it observed when it ran (hours since a commit, seconds): left out
    ledger_before = rows_of_date(quality_ledger(killed), "run_date", START, NOT_MONITOR)
    rerun = lakehouse(killed, prefect_api, "run", "--date", START.isoformat(), "--scale", "0.2")
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    assert "not rebuilt" in rerun.stdout
    assert features_before.num_rows == 1000
    assert rows_of_date(feature_table_uri(killed), "as_of_date", START).equals(features_before)
    assert rows_of_date(quality_ledger(killed), "run_date", START, NOT_MONITOR).equals(ledger_before)
