"""lakehouse.lease and exactly-once batch commits under concurrency, on a local lake and on moto's S3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse.lease import LeaseHeld, acquire, try_acquire
from lakehouse.settings import Settings

PROCESSES = 8

# A process that commits one batch id to one table, after all of them were started (a barrier file).
COMMIT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pyarrow as pa
    from lakehouse.lake import append_batch
    uri, app_id, barrier = sys.argv[1:4]
    while not Path(barrier).exists():
        time.sleep(0.01)
    committed = append_batch(uri, pa.table({"id": list(range(100)), "batch": [app_id] * 100}), app_id)
    print("committed" if committed else "already")
    """
)

HOLD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from lakehouse.lease import try_acquire
    lease = try_acquire("run", "test holder", float(sys.argv[1]))
    print("held", flush=True)
    time.sleep(600)
    """
)


def commit_concurrently(uri: str, app_id: str, tmp_path: Path) -> list[str]:
    barrier = tmp_path / f"go-{app_id}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", COMMIT_SCRIPT, uri, app_id, str(barrier)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
        )
        for _ in range(PROCESSES)
    ]  # fmt: skip
    time.sleep(2)  # let every interpreter start and wait at the barrier (they also wait if slower)
    barrier.touch()
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        outcomes.append(out.strip())
    return outcomes


def batch_commits(table: DeltaTable, app_id: str) -> int:
    data = table.to_pyarrow_table()
    return sum(1 for b in data.column("batch").to_pylist() if b == app_id) // 100


def assert_exactly_once(uri: str, settings: Settings, tmp_path: Path) -> None:
    for app_id in ("batch-1", "batch-2"):
        outcomes = commit_concurrently(uri, app_id, tmp_path)
        assert sorted(outcomes) == ["already"] * (PROCESSES - 1) + ["committed"]
    table = DeltaTable(uri, storage_options=settings.storage_options())
    assert batch_commits(table, "batch-1") == 1 and batch_commits(table, "batch-2") == 1
    assert table.count() == 200


@pytest.mark.integration
def test_eight_processes_commit_a_batch_once_locally(lake_settings: Settings, tmp_path: Path) -> None:
    assert_exactly_once(lake_settings.uri("raw", "t", "orders"), lake_settings, tmp_path)


@pytest.mark.integration
def test_eight_processes_commit_a_batch_once_on_s3(s3_settings: Settings, tmp_path: Path) -> None:
    assert_exactly_once(s3_settings.uri("raw", "t", "orders"), s3_settings, tmp_path)


def test_a_held_lease_names_its_holder(lake_settings: Settings) -> None:
    lease = try_acquire("run", "lakehouse run --date 2026-01-01", ttl=60, settings=lake_settings)
    try:
        with pytest.raises(LeaseHeld) as held:
            try_acquire("run", "another run", ttl=60, settings=lake_settings)
        message = str(held.value)
        assert f"pid {os.getpid()}" in message and "host " in message and "since " in message
        assert "lakehouse run --date 2026-01-01" in message
    finally:
        lease.release()
    try_acquire("run", "after release", ttl=60, settings=lake_settings).release()


def test_a_live_holder_renews_its_lease(lake_settings: Settings) -> None:
    lease = try_acquire("run", "renewing", ttl=1.5, settings=lake_settings)
    try:
        time.sleep(3)  # two lease periods: only renewal keeps it
        with pytest.raises(LeaseHeld):
            try_acquire("run", "too early", ttl=1.5, settings=lake_settings)
        assert not lease.lost.is_set()
    finally:
        lease.release()


def held_by_child(ttl: float, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(ttl)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize("lake", ["lake_settings", "s3_settings"])
def test_a_killed_holder_blocks_only_until_its_lease_expires(lake: str, request) -> None:
    settings: Settings = request.getfixturevalue(lake)
    ttl = 3.0
    proc = held_by_child(ttl, os.environ.copy())
    with pytest.raises(LeaseHeld):
        try_acquire("run", "second", ttl=ttl, settings=settings)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    start = time.monotonic()
    lease = acquire("run", "after the kill", ttl=ttl, wait=True, timeout=60, poll=0.2, settings=settings)
    waited = time.monotonic() - start
    lease.release()
    assert waited <= ttl + 30  # within the lease (plus slack for a loaded machine), not forever


def test_concurrent_takeover_of_an_expired_lease_has_one_winner(lake_settings: Settings) -> None:
    folder = Path(lake_settings.uri("ops", "leases", "run"))
    folder.mkdir(parents=True)
    (folder / f"{0:012d}.json").write_text(
        json.dumps({"host": "h", "pid": 1, "since": "x", "what": "dead", "expires_at": 0, "token": "t"})
    )
    script = textwrap.dedent(
        """
        import sys
        from lakehouse.lease import LeaseHeld, try_acquire
        try:
            try_acquire("run", "taker", 600)
            print("won")
        except LeaseHeld:
            print("lost")
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    outcomes = sorted(p.communicate(timeout=300)[0].strip() for p in procs)
    assert outcomes == ["lost"] * (PROCESSES - 1) + ["won"]
