"""`lakehouse run` with write-audit-publish and the run lease: a raw delivery that passes the raw gate but
breaks a mart check is withheld (readers keep the last good marts, the candidate is inspectable), a second
run on a busy lake exits 2 naming the holder, and a run killed with kill -9 blocks the lake only for the
lease before the next run completes the work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest
from deltalake import DeltaTable

from ingestion.shop.generator import generate_landing
from lakehouse.lake import duckdb_session
from lakehouse.settings import TELEMETRY_OFF, Settings

pytestmark = pytest.mark.integration
D1, D2 = date(2026, 11, 20), date(2026, 11, 21)
MARTS = {"fct_orders": "order_id", "dim_customers": "customer_id", "fct_daily_revenue": "order_date"}
LAKEHOUSE = Path(sys.executable).with_name("lakehouse")


def cli_env(settings: Settings, prefect_api: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "DBT_", "PREFECT_API"))}
    env.update(TELEMETRY_OFF, LAKEHOUSE_ROOT=settings.root, PREFECT_API_URL=prefect_api, COLUMNS="200")
    env["LAKEHOUSE_CATALOG"] = str(settings.catalog_path)
    env.update(extra)
    return env


def lakehouse(
    settings: Settings, prefect_api: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAKEHOUSE), *args], env=cli_env(settings, prefect_api, **env),
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def readers_see(settings: Settings) -> dict[str, tuple[int, list[tuple]]]:
    seen = {}
    with duckdb_session(str(settings.catalog_path), settings, read_only=True) as con:
        for mart, key in MARTS.items():
            view = con.sql(f"select * from main.{mart} order by {key}").fetchall()
            seen[mart] = (DeltaTable(settings.uri("analytics", mart)).version(), view)
    return seen


def test_a_delivery_that_breaks_a_mart_check_is_withheld(prefect_api, lake_settings) -> None:
    first = lakehouse(lake_settings, prefect_api, "run", "--date", D1.isoformat(), "--scale", "0.1")
    assert first.returncode == 0, (first.stdout + first.stderr)[-5000:]
    before = readers_see(lake_settings)

    generate_landing(D2, scale=0.1, settings=lake_settings)
    orders = Path(lake_settings.uri("landing", "shop", D2.isoformat(), "orders.jsonl"))
    lines = orders.read_text().splitlines()
    lines[0] = json.dumps(json.loads(lines[0]) | {"customer_id": 987654321})  # a customer nobody knows
    orders.write_text("\n".join(lines) + "\n")
    run = lakehouse(lake_settings, prefect_api, "run", "--date", D2.isoformat(), "--no-generate")
    output = run.stdout + run.stderr

    assert run.returncode == 1, output[-5000:]
    assert "WITHHELD" in output and "relationships" in output, output[-5000:]
    assert readers_see(lake_settings) == before  # Delta versions and catalog views: the last good marts

    inspect = lakehouse(lake_settings, prefect_api, "quality", "inspect")
    assert inspect.returncode == 0, inspect.stdout + inspect.stderr
    assert "withheld" in inspect.stdout and "987654321" in inspect.stdout  # the failing check's sample row
    assert "main_candidate.fct_orders" in inspect.stdout

    ledger = DeltaTable(lake_settings.uri("quality", "ledger")).to_pyarrow_table().to_pylist()
    decisions = {(r["dataset"], r["check"]) for r in ledger if r["layer"] == "publish"}
    assert ("fct_orders", "withheld") in decisions and ("fct_orders", "published") in decisions


HOLDER = textwrap.dedent(
    """
    import time
    from lakehouse.lease import try_acquire
    try_acquire("run", "lakehouse run --date 2026-11-20", 4.0)
    print("held", flush=True)
    time.sleep(600)
    """
)


def test_a_second_run_exits_2_naming_the_holder_then_waits_out_a_killed_one(
    prefect_api, lake_settings
) -> None:
    env = cli_env(lake_settings, prefect_api)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=env, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

    busy = lakehouse(lake_settings, prefect_api, "run", "--date", D1.isoformat(), "--scale", "0.1")
    assert busy.returncode == 2, busy.stdout + busy.stderr
    assert f"pid {holder.pid}" in busy.stdout and "since" in busy.stdout and "Traceback" not in busy.stderr

    holder.send_signal(signal.SIGKILL)  # the holder dies without releasing
    holder.wait()
    start = time.monotonic()
    waited = lakehouse(
        lake_settings, prefect_api, "run", "--date", D1.isoformat(), "--scale", "0.1", "--wait"
    )
    assert waited.returncode == 0, (waited.stdout + waited.stderr)[-5000:]
    assert time.monotonic() - start < 900


def test_a_run_killed_mid_build_is_completed_by_the_next(prefect_api, lake_settings) -> None:
    env = cli_env(lake_settings, prefect_api, LAKEHOUSE_LEASE_SECONDS="5")
    proc = subprocess.Popen(
        [str(LAKEHOUSE), "run", "--date", D1.isoformat(), "--scale", "0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    candidates = Path(lake_settings.uri("analytics", "fct_orders", "candidates"))
    deadline = time.monotonic() + 900
    while not any(candidates.glob("*/_delta_log/*.json")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the run never wrote a candidate"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not Path(lake_settings.uri("analytics", "fct_orders", "_delta_log")).exists()  # nothing published

    rerun = lakehouse(
        lake_settings, prefect_api, "run", "--date", D1.isoformat(), "--scale", "0.1", "--wait",
        LAKEHOUSE_LEASE_SECONDS="5",
    )  # fmt: skip
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    for mart in MARTS:
        runs = [
            h.get("lakehouse_wap_run") for h in DeltaTable(lake_settings.uri("analytics", mart)).history()
        ]
        assert len([r for r in runs if r]) == 1, mart  # published exactly once
    assert [p.name for p in candidates.iterdir()] == [
        h["lakehouse_wap_run"] for h in DeltaTable(lake_settings.uri("analytics", "fct_orders")).history(1)
    ]  # the killed run's candidate was discarded; the published one's files are the table's
