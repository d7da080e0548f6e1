"""A real Prefect server, the `*-local` deployments and a worker on this machine: `make ui` / `make ui-stop`.

`up` starts `prefect server start` (SQLite under the state dir, PREFECT_HOME there) in the background, waits
for /api/health, creates the process work pool `lakehouse-local` if it is missing, deploys prefect.yaml's
`*-local` deployments, creates the automation "lakehouse: nightly run failed" (a notification through the
LAKEHOUSE_ALERT_BLOCK block when a nightly deployment run fails or crashes) and starts a worker; PID files and
logs go to <state>/local/. `down` stops exactly
those processes (their process groups: the worker's flow-run subprocesses too). Everything works offline.

Flow runs inherit the worker's environment: LAKEHOUSE_ROOT and friends as set when `up` ran (default: the
repository's lake/).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from lakehouse.dates import parse_run_date
from lakehouse.settings import PROJECT_DIR, TELEMETRY_OFF

POOL = "lakehouse-local"
DEPLOYMENTS = "*-local"  # prefect.yaml: the deployment name's suffix selects the work pool
NIGHTLY = "lakehouse-nightly/nightly-local"
AUTOMATION = "lakehouse: nightly run failed"
FAILED_STATES = {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
NOTIFICATION = (
    "Flow run {{ flow_run.name }} of {{ deployment.name }} ended {{ flow_run.state.name }}: "
    "{{ flow_run.state.message }}\nParameters: {{ flow_run.parameters }}\nSee {{ flow_run|ui_url }}"
)
PREFECT = Path(sys.executable).with_name("prefect")
# Stop order: the worker first (it reports its flow runs to the server), then the server.
PROCESSES = ("worker", "server")


class StackError(RuntimeError):
    """The local Prefect stack could not be started or stopped; the message says what to do."""


@dataclass(frozen=True)
class LocalStack:
    """Where the local server keeps its state and where it listens."""

    state_dir: Path = PROJECT_DIR / ".prefect"
    host: str = "127.0.0.1"
    port: int = 4200

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "local"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def env(self) -> dict[str, str]:
        """The environment of the server, the worker (and so every flow run) and the prefect CLI calls."""
        env = dict(os.environ)
        for key, value in TELEMETRY_OFF.items():
            env.setdefault(key, value)
        for stale in ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_PROFILE", "PREFECT_API_KEY"):
            env.pop(stale, None)
        env.update(
            PREFECT_HOME=str(self.state_dir),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{self.state_dir / 'prefect.db'}",
            # prefect.yaml's local pull step: flow runs start in this checkout
            LAKEHOUSE_PROJECT_DIR=str(PROJECT_DIR),
        )
        return env


# --- processes -------------------------------------------------------------------------------------------

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    pgid: int
    state: str  # R, S, Z (zombie), ...
    started: str  # opaque start time: tells the process `up` started from a later one with the same PID

    @property
    def alive(self) -> bool:
        return not self.state.startswith("Z")


def _from_proc(stat: Path) -> ProcessInfo | None:
    try:
        text = stat.read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ... starttime (20th)
    return ProcessInfo(int(text.split(" ", 1)[0]), int(fields[2]), fields[0], fields[19])


def _from_ps(*select: str) -> list[ProcessInfo]:
    """Without /proc (macOS): the same facts from `ps`."""
    columns = ["-o", "pid=", "-o", "pgid=", "-o", "stat=", "-o", "lstart="]
    out = subprocess.run(["ps", *select, *columns], capture_output=True, text=True, check=False).stdout
    found = []
    for line in out.splitlines():
        pid, pgid, state, started = line.split(None, 3)
        found.append(ProcessInfo(int(pid), int(pgid), state, started.strip()))
    return found


def _reap(pid: int) -> None:
    """Collect an exited child of this process (tests start the stack in-process), else do nothing."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def process(pid: int) -> ProcessInfo | None:
    _reap(pid)
    if (PROC / "self" / "stat").exists():
        return _from_proc(PROC / str(pid) / "stat")
    found = _from_ps("-p", str(pid))
    return found[0] if found else None


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    if (PROC / "self" / "stat").exists():
        found = [info for stat in PROC.glob("[0-9]*/stat") if (info := _from_proc(stat))]
    else:
        found = _from_ps("-A")
    return [info.pid for info in found if info.pgid == pgid and info.alive]


def _read_pid_file(path: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return record


def running_pid(stack: LocalStack, name: str) -> int | None:
    """PID of the stack's `name` process if it is still the process that `up` started (not a reused PID)."""
    record = _read_pid_file(stack.pid_file(name))
    if record is None:
        return None
    pid = int(record["pid"])
    info = process(pid)
    return pid if info is not None and info.alive and info.started == record["started"] else None


def _owned_group(stack: LocalStack, name: str) -> int | None:
    """The process group `up` started for `name`: its leader is ours, or the leader exited and left children
    behind (a PID that is some group's id is never handed to a new process, so those are ours too)."""
    record = _read_pid_file(stack.pid_file(name))
    if record is None:
        return None
    pid = int(record["pid"])
    info = process(pid)
    if info is not None and info.alive:
        return pid if info.started == record["started"] else None
    return pid if group_members(pid) else None


def _spawn(stack: LocalStack, name: str, args: list[str]) -> int:
    """Start `prefect <args>` in its own process group (so `down` can stop its children), log to a file."""
    stack.run_dir.mkdir(parents=True, exist_ok=True)
    with stack.log_file(name).open("w") as log:
        proc = subprocess.Popen(
            [str(PREFECT), *args],
            cwd=PROJECT_DIR,
            env=stack.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    info = process(proc.pid)
    record = {
        "pid": proc.pid,
        "started": info.started if info else "",
        "command": ["prefect", *args],
        "api_url": stack.api_url,  # lets `lakehouse run` find this server (running_api_url)
    }
    stack.pid_file(name).write_text(json.dumps(record) + "\n")
    return proc.pid


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pgid)
        if not group_members(pgid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_process(stack: LocalStack, name: str, grace: float = 5.0) -> str:
    """SIGTERM the process group, SIGTERM again (a Prefect worker needs two), then SIGKILL; report what
    happened."""
    pid = _owned_group(stack, name)
    stack.pid_file(name).unlink(missing_ok=True)
    if pid is None:
        return f"{name}: not running"
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        _signal_group(pid, sig)
        if _wait_group_gone(pid, wait):
            return f"{name}: stopped (pid {pid}, {sig.name})"
    raise StackError(f"{name} (process group {pid}) survived SIGKILL; see `ps -eo pid,pgid,stat,args`")


# --- the Prefect server and what runs on it -----------------------------------------------------------------


def _http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def is_healthy(stack: LocalStack) -> bool:
    try:
        return _http_json(f"{stack.api_url}/health", timeout=2) is True
    except (OSError, ValueError):
        return False


def running_api_url(stack: LocalStack | None = None) -> str | None:
    """The API URL of the server `up` started for this checkout when it is still that process and healthy,
    else None: `lakehouse run` uses it instead of starting Prefect's temporary server."""
    stack = stack or LocalStack()
    record = _read_pid_file(stack.pid_file("server"))
    if record is None or not record.get("api_url") or running_pid(stack, "server") is None:
        return None
    url = str(record["api_url"])
    try:
        return url if _http_json(f"{url}/health", timeout=2) is True else None
    except (OSError, ValueError):
        return None


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _log_tail(stack: LocalStack, name: str, lines: int = 30) -> str:
    try:
        return "\n".join(stack.log_file(name).read_text().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _wait_until(check: Callable[[], bool], what: str, stack: LocalStack, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if running_pid(stack, name) is None:
            raise StackError(f"{what}: the {name} exited. {stack.log_file(name)}:\n{_log_tail(stack, name)}")
        if time.monotonic() > deadline:
            raise StackError(
                f"{what}: not after {timeout:.0f} s. {stack.log_file(name)}:\n{_log_tail(stack, name)}"
            )
        time.sleep(0.3)


def _prefect(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PREFECT), *args],
        cwd=PROJECT_DIR,
        env=stack.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def ensure_work_pool(stack: LocalStack) -> None:
    result = _prefect(stack, "work-pool", "create", POOL, "--type", "process")
    if result.returncode != 0 and "already exists" not in result.stdout + result.stderr:
        raise StackError(f"`prefect work-pool create {POOL}` failed:\n{result.stdout}{result.stderr}")


def deploy(stack: LocalStack) -> None:
    """prefect.yaml's `*-local` deployments (the `*-aws` ones target the cloud pool)."""
    result = _prefect(stack, "--no-prompt", "deploy", "--name", DEPLOYMENTS)
    if result.returncode != 0 or not deployment(stack, NIGHTLY):
        raise StackError(f"`prefect deploy --name '{DEPLOYMENTS}'` failed:\n{result.stdout}{result.stderr}")


def deployment(stack: LocalStack, name: str) -> dict[str, Any] | None:
    """The deployment `flow/deployment` as the API returns it, or None."""
    try:
        found: dict[str, Any] = _http_json(f"{stack.api_url}/deployments/name/{name}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return found


def _notification_action(block: str | None) -> tuple[Any, str]:
    """SendNotification through the saved block `block` (<type slug>/<name>), else DoNothing; and a line
    saying which (the caller holds the stack's API settings)."""
    from prefect.automations import DoNothing, SendNotification
    from prefect.blocks.core import Block

    if not block:
        return DoNothing(), "no LAKEHOUSE_ALERT_BLOCK: it shows in the UI's event feed, sends nothing"
    try:
        block_id = Block.load(block)._block_document_id  # type: ignore[union-attr]  # sync here
    except ValueError as exc:  # no such block on this server
        return DoNothing(), f"LAKEHOUSE_ALERT_BLOCK {block} not found on this server ({exc}): sends nothing"
    subject = "lakehouse: nightly run {{ flow_run.name }} {{ flow_run.state.name }}"
    return SendNotification(
        block_document_id=block_id, subject=subject, body=NOTIFICATION
    ), f"notifies {block}"


def ensure_automation(stack: LocalStack, block: str | None = None) -> str:
    """Create (or replace) the automation AUTOMATION on the stack's server: when a flow run of the nightly
    deployment ends Failed or Crashed, send a notification through `block` (default LAKEHOUSE_ALERT_BLOCK).
    Returns a line for the operator."""
    from prefect.automations import Automation, EventTrigger, Posture
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from lakehouse.settings import get_settings

    nightly = deployment(stack, NIGHTLY)
    if nightly is None:
        raise StackError(f"automation {AUTOMATION!r}: no deployment {NIGHTLY} yet (deploy first)")
    block = block if block is not None else get_settings().lakehouse_alert_block
    with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
        action, said = _notification_action(block)
        with contextlib.suppress(ValueError):  # the previous definition, replaced (no duplicates)
            Automation.read(name=AUTOMATION).delete()  # type: ignore[attr-defined]  # sync here
        Automation(
            name=AUTOMATION,
            description=f"A flow run of {NIGHTLY} ended Failed or Crashed (created by make ui).",
            trigger=EventTrigger(
                expect=FAILED_STATES,
                match_related={"prefect.resource.id": f"prefect.deployment.{nightly['id']}"},
                posture=Posture.Reactive,
                threshold=1,
            ),
            actions=[action],
        ).create()
    return f"Automation '{AUTOMATION}': {said}"


def worker_online(stack: LocalStack) -> bool:
    try:
        workers = _http_json(f"{stack.api_url}/work_pools/{POOL}/workers/filter", body={})
    except (OSError, ValueError):
        return False
    return any(w.get("status") == "ONLINE" for w in workers)


def up(stack: LocalStack, timeout: float = 120.0) -> bool:
    """Start the stack and deploy; returns False when it was already running (then it only deploys again, so
    edits to prefect.yaml take effect, and starts nothing twice)."""
    if running_pid(stack, "server") and running_pid(stack, "worker") and is_healthy(stack):
        deploy(stack)
        print(ensure_automation(stack))
        return False
    down(stack)  # a half-started stack (e.g. the worker died): start again from nothing
    if port_in_use(stack.host, stack.port):
        raise StackError(
            f"{stack.host}:{stack.port} is in use by another process: stop it or pick another port "
            f"(make ui UI_PORT=4300)"
        )
    stack.state_dir.mkdir(parents=True, exist_ok=True)
    (stack.state_dir / ".gitignore").write_text("# local Prefect server state (make ui)\n*\n")
    try:
        _spawn(stack, "server", ["server", "start", "--host", stack.host, "--port", str(stack.port)])
        _wait_until(lambda: is_healthy(stack), "Prefect server health", stack, "server", timeout)
        ensure_work_pool(stack)
        # the worker takes seconds to come up: start it first, deploy meanwhile
        _spawn(stack, "worker", ["worker", "start", "--pool", POOL, "--name", f"{POOL}-worker"])
        deploy(stack)
        print(ensure_automation(stack))
        _wait_until(lambda: worker_online(stack), f"worker online in {POOL}", stack, "worker", timeout)
    except BaseException:
        down(stack)
        raise
    return True


def down(stack: LocalStack) -> list[str]:
    return [stop_process(stack, name) for name in PROCESSES]


# --- what operators run -------------------------------------------------------------------------------------


def trigger_command(run_date: str | None = None, watch: bool = True) -> list[str]:
    """`prefect deployment run` for the nightly deployment (run_date defaults to today, UTC); run it with
    `LocalStack.env()` (PREFECT_API_URL)."""
    day = run_date or datetime.now(UTC).date().isoformat()
    return [str(PREFECT), "deployment", "run", NIGHTLY, "--param", f"run_date={day}"] + (
        ["--watch"] if watch else []
    )


def _shown(path: str) -> str:
    try:
        return str(Path(path).relative_to(PROJECT_DIR))
    except ValueError:
        return path


def trigger_hint(stack: LocalStack) -> str:
    """A command to paste into a shell at the repository root."""
    args = trigger_command()
    return f"PREFECT_API_URL={stack.api_url} {_shown(args[0])} " + " ".join(
        f"'{a}'" if "/" in a else a for a in args[1:]
    )


def describe(stack: LocalStack) -> str:
    lines = []
    for name in ("server", "worker"):
        pid = running_pid(stack, name)
        state = f"running (pid {pid})" if pid else "not running"
        lines.append(f"{name:7} {state:24} log: {_shown(str(stack.log_file(name)))}")
    lines.append(f"api     {'healthy' if is_healthy(stack) else 'not answering':24} {stack.api_url}")
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------------------------------

app = typer.Typer(
    help="The local Prefect server, deployments and worker behind `make ui`.", no_args_is_help=True
)
StateDir = Annotated[Path, typer.Option(help="Server state: SQLite database, PID files, logs.")]
Port = Annotated[int, typer.Option(help="Port of the server and UI on 127.0.0.1.")]


def _stack(state_dir: Path, port: int) -> LocalStack:
    return LocalStack(state_dir=state_dir.resolve(), port=port)


@app.command("up")
def up_command(
    state_dir: StateDir = PROJECT_DIR / ".prefect",
    port: Port = 4200,
    foreground: Annotated[bool, typer.Option(help="Stay in the foreground; Ctrl-C stops it all.")] = False,
) -> None:
    """Start the server, deploy the `*-local` deployments, start a worker; print the URL and a trigger."""
    stack = _stack(state_dir, port)
    try:
        started = up(stack)
    except StackError as exc:
        typer.echo(f"make ui failed: {exc}", err=True)
        raise typer.Exit(1) from None
    state = "Started" if started else "Already running (deployments updated)"
    typer.echo(f"{state}: Prefect UI at {stack.ui_url}")
    typer.echo(describe(stack))
    typer.echo(f"\nDeployments: {DEPLOYMENTS} on work pool {POOL} ({stack.ui_url}/deployments)")
    typer.echo(f"Run tonight's pipeline and watch it:\n  {trigger_hint(stack)}")
    typer.echo("  (or: make ui-trigger DATE=YYYY-MM-DD)\nStop everything: make ui-stop")
    if foreground:
        typer.echo("Ctrl-C stops the server and the worker.")
        try:
            while running_pid(stack, "server"):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        for line in down(stack):
            typer.echo(line)


@app.command("down")
def down_command(state_dir: StateDir = PROJECT_DIR / ".prefect", port: Port = 4200) -> None:
    """Stop the worker and the server that `up` started (and nothing else)."""
    for line in down(_stack(state_dir, port)):
        typer.echo(line)


@app.command("status")
def status_command(state_dir: StateDir = PROJECT_DIR / ".prefect", port: Port = 4200) -> None:
    """Show whether the server and the worker are running."""
    typer.echo(describe(_stack(state_dir, port)))


@app.command("trigger")
def trigger_command_cli(
    run_date: Annotated[
        str | None, typer.Option("--date", help="Logical date (default: today, UTC).")
    ] = None,
    state_dir: StateDir = PROJECT_DIR / ".prefect",
    port: Port = 4200,
) -> None:
    """Run the nightly deployment on the local server through the worker and watch it to the end."""
    try:
        run_date = None if run_date is None else parse_run_date(run_date).isoformat()
    except ValueError as exc:  # a usage error: one line, exit 2
        typer.echo(f"✗ {exc}", err=True)
        raise typer.Exit(2) from None
    stack = _stack(state_dir, port)
    if not is_healthy(stack):
        typer.echo(f"No Prefect server at {stack.api_url}: run `make ui` first.", err=True)
        raise typer.Exit(1)
    result = subprocess.run(trigger_command(run_date), cwd=PROJECT_DIR, env=stack.env(), check=False)
    raise typer.Exit(result.returncode)


if __name__ == "__main__":
    app()
