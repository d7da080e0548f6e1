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
    try_acquire("run", "lakehouse run --date 2026-11-20 (on another machine)", 60.0)
    print("held", flush=True)
    time.sleep(600)
    """
)


def start_run(settings: Settings, prefect_api: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(LAKEHOUSE), "run", *args], env=cli_env(settings, prefect_api, **env),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def wait_for(condition, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 900
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def candidates_written(settings: Settings, every: bool) -> bool:
    """The run wrote its first candidate (`every`: all its marts' candidates, and has not decided yet:
    it is auditing them)."""
    runs = sorted(Path(settings.uri("ops", "wap")).glob("*"))
    if not runs:
        return False
    written = list((runs[-1] / "candidates").glob("*.json"))
    decided = (runs[-1] / "decision.json").exists()
    return len(written) >= 4 and not decided if every else bool(written)


def published_runs(settings: Settings, mart: str) -> list[str]:
    history = DeltaTable(settings.uri("analytics", mart)).history()
    return [h["lakehouse_wap_run"] for h in history if h.get("lakehouse_wap_run")]


@pytest.mark.parametrize("phase", ["candidate write", "audit"])
def test_two_runs_one_lake_and_a_run_killed_mid_way(phase: str, prefect_api, lake_settings) -> None:
    """A second run exits 2 naming the first; the first killed with kill -9 while writing (or auditing)
    its candidates publishes nothing; the next run waits out its lease and publishes exactly once."""
    lease = {"LAKEHOUSE_LEASE_SECONDS": "10"}
    first = start_run(lake_settings, prefect_api, "--date", D1.isoformat(), "--scale", "0.1", **lease)
    leases = Path(lake_settings.uri("ops", "leases", "run"))
    wait_for(lambda: any(leases.glob("*.json")), first, "the run took the lease")

    second = lakehouse(lake_settings, prefect_api, "run", "--date", D1.isoformat(), **lease)
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"pid {first.pid}" in second.stdout and "since" in second.stdout, second.stdout
    assert "Traceback" not in second.stdout + second.stderr

    wait_for(lambda: candidates_written(lake_settings, every=phase == "audit"), first, phase)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not Path(lake_settings.uri("analytics", "fct_orders", "_delta_log")).exists()  # nothing published

    start = time.monotonic()
    args = ("run", "--date", D1.isoformat(), "--scale", "0.1", "--wait")
    rerun = lakehouse(lake_settings, prefect_api, *args, **lease)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    assert time.monotonic() - start < 900
    for mart in MARTS:
        assert len(published_runs(lake_settings, mart)) == 1, mart  # published exactly once
    kept = sorted(p.name for p in Path(lake_settings.uri("analytics", "fct_orders", "candidates")).iterdir())
    assert kept == published_runs(lake_settings, "fct_orders")  # the killed run's candidates were discarded


def test_a_run_on_a_busy_s3_lake_exits_2_naming_the_holder(prefect_api, s3_settings) -> None:
    """Two machines, one S3 lake, each with its own catalog: the lease is in the lake, not the catalog."""
    env = cli_env(s3_settings, prefect_api)  # the AWS_* variables of the moto bucket are inherited
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        other_catalog = {"LAKEHOUSE_CATALOG": str(Path(s3_settings.catalog_path).parent / "other.duckdb")}
        busy = lakehouse(s3_settings, prefect_api, "run", "--date", D1.isoformat(), **other_catalog)
        assert busy.returncode == 2, busy.stdout + busy.stderr
        assert f"pid {holder.pid}" in busy.stdout and "on another machine" in busy.stdout
    finally:
        holder.kill()
