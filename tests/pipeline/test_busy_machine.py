"""The first command works on a busy machine: Prefect's temporary API server gets a start-up limit that fits a
loaded 2-core machine, every entry point applies it, and a server that cannot start ends the command with one
line saying what to do (no traceback)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lakehouse.settings import (
    PREFECT_DEFAULTS,
    PROJECT_DIR,
    STARTUP_TIMEOUT,
    TELEMETRY_OFF,
    prefect_server_problem,
)

BIN = Path(sys.executable).parent
PREFECT_LOG_LINE = re.compile(
    r"^\d\d:\d\d:\d\d\.\d+ \| "
)  # Prefect's console log records (and their 2nd line)
PREFECT_LOG_MORE = "See https://www.prefect.io/docs"


def _fresh_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh local lake and an empty PREFECT_HOME, no PREFECT_API_URL: the ephemeral server must start."""
    dropped = ("LAKEHOUSE_", "DBT_", "PREFECT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        TELEMETRY_OFF,
        LAKEHOUSE_ROOT=str(tmp_path / "lake"),
        LAKEHOUSE_CATALOG=str(tmp_path / "catalog" / "lakehouse.duckdb"),
        PREFECT_HOME=str(tmp_path / "prefect"),
        COLUMNS="200",
        **extra,
    )
    return env


def _seconds_between(output: str, first: str, then: str) -> float:
    """Seconds between the Prefect log lines holding `first` and `then` (their HH:MM:SS.fff stamps)."""
    stamps = []
    for marker in (first, then):
        line = next(line for line in output.splitlines() if marker in line)
        hours, minutes, seconds = line.split(" ", 1)[0].split(":")
        stamps.append(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
    return (stamps[1] - stamps[0]) % 86400


def _raised_in_prefect_server_start(exc: BaseException) -> BaseException:
    """`exc` as SubprocessASGIServer.start (prefect/server/api/server.py) raises it."""
    code = compile(
        "def start(exc):\n    raise exc\n", str(Path("x", "prefect", "server", "api", "server.py")), "exec"
    )
    namespace: dict = {}
    exec(code, namespace)
    try:
        namespace["start"](exc)
    except BaseException as raised:
        return raised
    raise AssertionError("not raised")


def test_one_line_names_what_to_do_for_each_way_the_server_fails_to_start(monkeypatch):
    monkeypatch.setenv(STARTUP_TIMEOUT, "600")
    timed_out = RuntimeError("Timed out while attempting to connect to ephemeral Prefect API server.")
    line = prefect_server_problem(_raised_in_prefect_server_start(timed_out))
    assert line and f"{STARTUP_TIMEOUT}=600 s" in line and f"{STARTUP_TIMEOUT}=1200" in line
    exited = RuntimeError(f"{timed_out} Ephemeral server process exited with code 1.")
    line = prefect_server_problem(_raised_in_prefect_server_start(exited))
    assert line and "exited with code 1" in line
    health_check = httpx.ReadTimeout("timed out")
    line = prefect_server_problem(_raised_in_prefect_server_start(health_check))
    assert line and "ReadTimeout: timed out" in line
    for wrapped in (timed_out, exited, health_check):
        line = prefect_server_problem(_raised_in_prefect_server_start(wrapped))
        assert line and "\n" not in line and "make ui" in line and "PREFECT_API_URL=" in line
    # the same errors raised anywhere else (e.g. an HTTP source's timeout) are not Prefect's server failing
    assert prefect_server_problem(httpx.ReadTimeout("timed out")) is None
    assert prefect_server_problem(RuntimeError(str(timed_out))) is None
    assert prefect_server_problem(ValueError("bad")) is None


def test_runtime_defaults_keep_explicit_values_and_reach_an_imported_prefect(tmp_path):
    """In a fresh interpreter (as `python orchestration/flows/<file>.py`, which imports Prefect first)."""
    probe = (
        "import os\n"
        "from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as limit\n"
        "from lakehouse.settings import apply_runtime_defaults\n"
        "before = limit.value()\n"
        "apply_runtime_defaults()\n"
        "print(before, limit.value(), os.environ['" + STARTUP_TIMEOUT + "'])\n"
    )
    env = _fresh_env(tmp_path)
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    before, after, value = run.stdout.split()
    assert before == "20" and int(after) == int(PREFECT_DEFAULTS[STARTUP_TIMEOUT]) >= 300 and value == after
    env[STARTUP_TIMEOUT] = "45"  # a value the user set wins
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.split() == ["45", "45", "45"], run.stdout + run.stderr[-2000:]


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "lakehouse"), "run", "--date", "2026-11-20", "--scale", "0.05"],
        [
            sys.executable,
            str(PROJECT_DIR / "orchestration" / "flows" / "ml" / "feature_engineering_pipeline.py"),
        ],
    ],
    ids=["lakehouse-run", "python-flow-file"],
)
def test_server_that_cannot_start_ends_the_command_with_one_line(tmp_path, command):
    env = _fresh_env(tmp_path, **{STARTUP_TIMEOUT: "0"})  # no time at all: the start always times out
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    assert "Traceback" not in output and "│" not in output, output[-3000:]
    ours = [
        line
        for line in output.splitlines()
        if line.strip() and not PREFECT_LOG_LINE.match(line) and not line.startswith(PREFECT_LOG_MORE)
    ]
    assert len(ours) == 1, output[-3000:]
    assert ours[0].startswith("Prefect's temporary API server did not start within"), ours[0]
    for what_to_do in (
        f"{STARTUP_TIMEOUT}=0 s",
        f"export {STARTUP_TIMEOUT}=1200",
        "make ui",
        "PREFECT_API_URL=",
    ):
        assert what_to_do in ours[0], ours[0]
    assert ours[0] in proc.stderr


@pytest.mark.integration
def test_lakehouse_run_succeeds_beside_six_cpu_bound_processes(tmp_path):
    """The first `lakehouse run` on a fresh lake and an empty Prefect database, with six CPU-bound processes
    on the machine's 2 cores (load 8+), and the project's own start-up limit (none set here)."""
    env = _fresh_env(tmp_path)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(6)]
    try:
        started = time.monotonic()
        proc = subprocess.run(
            [str(BIN / "lakehouse"), "run", "--date", "2026-11-20", "--scale", "0.05"],
            env=env,
            capture_output=True,
            text=True,
            timeout=2400,
        )
        elapsed, load = time.monotonic() - started, os.getloadavg()[0]
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    output = proc.stdout + proc.stderr
    log_file = next(line for line in proc.stdout.splitlines() if line.startswith("log: ")).removeprefix(
        "log: "
    )
    server_up = _seconds_between(
        Path(log_file).read_text(), "Starting temporary server", "Beginning flow run"
    )
    print(f"beside 6 CPU-bound processes: lakehouse run {elapsed:.0f} s, its temporary server answered after")
    print(f"{server_up:.0f} s; 1-minute load at the end {load:.1f}")
    assert proc.returncode == 0, output[-5000:]
    assert "Run succeeded." in output
    assert load >= 6, f"the machine was not busy (1-minute load {load:.1f})"
