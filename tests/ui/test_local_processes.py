"""`make ui-stop` stops exactly what `make ui` started: escalation for a process that ignores SIGTERM (a
Prefect worker needs a second one), children in the process group, and a PID file whose PID was reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestration.local import (
    LocalStack,
    group_members,
    process,
    running_api_url,
    running_pid,
    stop_process,
)

# Exits on the n-th SIGTERM (0: never) after starting a child in its process group.
STUBBORN = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
seen = []
def on_term(*_):
    seen.append(1)
    if len(seen) == {n}:
        child.terminate(); sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def stack(tmp_path) -> LocalStack:
    stack = LocalStack(state_dir=tmp_path / "prefect", port=1)
    stack.run_dir.mkdir(parents=True)
    return stack


def _start(stack: LocalStack, name: str, terms_to_exit: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", STUBBORN.format(n=terms_to_exit)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout and proc.stdout.readline().strip() == "ready"
    info = process(proc.pid)
    assert info is not None
    stack.pid_file(name).write_text(json.dumps({"pid": proc.pid, "started": info.started}))
    return proc


@pytest.mark.parametrize(("terms_to_exit", "how"), [(1, "SIGTERM"), (2, "SIGTERM"), (0, "SIGKILL")])
def test_stop_escalates_and_leaves_no_process_of_the_group(stack, terms_to_exit, how):
    proc = _start(stack, "worker", terms_to_exit)
    assert running_pid(stack, "worker") == proc.pid and len(group_members(proc.pid)) == 2
    report = stop_process(stack, "worker", grace=1.0)
    assert report == f"worker: stopped (pid {proc.pid}, {how})"
    assert proc.wait(timeout=5) is not None and group_members(proc.pid) == []
    assert not stack.pid_file("worker").exists()


def test_a_reused_pid_is_not_ours_to_stop(stack):
    proc = _start(stack, "server", terms_to_exit=1)
    stack.pid_file("server").write_text(json.dumps({"pid": proc.pid, "started": "some earlier process"}))
    try:
        assert running_pid(stack, "server") is None
        assert stop_process(stack, "server", grace=1.0) == "server: not running"
        assert proc.poll() is None, "a process that `up` did not start was stopped"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_no_pid_file_means_nothing_to_stop(stack):
    assert stop_process(stack, "worker") == "worker: not running"


def _record_server(stack: LocalStack, pid: int, api_url: str, started: str | None = None) -> None:
    info = process(pid)
    assert info is not None
    record = {"pid": pid, "started": started or info.started, "api_url": api_url}
    stack.pid_file("server").write_text(json.dumps(record))


def test_lakehouse_run_uses_only_a_live_healthy_server_of_ours(stack, httpserver):
    """`lakehouse run` reuses `make ui`'s server only when its PID file names a live process and the API
    answers /health; otherwise it keeps Prefect's temporary server (None)."""
    url = httpserver.url_for("/api").rstrip("/")
    assert running_api_url(stack) is None  # no PID file
    _record_server(stack, os.getpid(), url)
    httpserver.expect_request("/api/health").respond_with_json(False)
    assert running_api_url(stack) is None  # up but not healthy
    httpserver.clear()
    httpserver.expect_request("/api/health").respond_with_json(True)
    assert running_api_url(stack) == url
    _record_server(stack, os.getpid(), url, started="some earlier process")
    assert running_api_url(stack) is None  # the PID was reused: not our server
    _record_server(stack, os.getpid(), "http://127.0.0.1:1/api")
    assert running_api_url(stack) is None  # nothing listens there
