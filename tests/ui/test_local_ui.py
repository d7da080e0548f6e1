"""`make ui` end to end through the code it runs (orchestration/local.py): a real Prefect server on a free
port with its state in tmp, prefect.yaml's `*-local` deployments and a worker; the nightly deployment runs
through the worker on a tmp lake; headless Chromium shows it in the UI; `make ui-stop`'s code leaves nothing
running. Screenshots and rendered DOMs are kept in test-artifacts/ui/."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from ui_browser import Page, ensure_chromium, render
from ui_png import distinct_colours

from lakehouse.settings import PROJECT_DIR, TELEMETRY_OFF
from orchestration.local import (
    AUTOMATION,
    NIGHTLY,
    POOL,
    LocalStack,
    down,
    ensure_automation,
    group_members,
    is_healthy,
    port_in_use,
    process,
    running_api_url,
    running_pid,
    trigger_command,
    up,
)

pytestmark = pytest.mark.integration

ARTIFACTS = PROJECT_DIR / "test-artifacts" / "ui"
RUN_DATE = datetime.now(UTC).date().isoformat()
STAGE_FLOWS = [
    "batch-scoring-pipeline",  # skipped inside (no champion model on a new lake), still its own flow run
    "data-quality-monitor",
    "data-quality-monitor",
    "dbt-transform",
    "feature-engineering-pipeline",
    "lakehouse-monitor",
    "quality-report",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(stack: LocalStack, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{stack.api_url}/{path.lstrip('/')}"
    response = httpx.post(url, json=body, timeout=30) if body is not None else httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One stack for the module; the worker (and so each flow run) sees a tmp lake at a small scale."""
    work = tmp_path_factory.mktemp("ui")
    local = LocalStack(state_dir=work / "prefect", port=_free_port())
    env = {
        **TELEMETRY_OFF,
        "LAKEHOUSE_ROOT": str(work / "lake"),
        "LAKEHOUSE_CATALOG": str(work / "lake" / "_catalog" / "lakehouse.duckdb"),
        "LAKEHOUSE_SCALE": "0.1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",  # the worker picks the run up at once
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert up(local) is True
        try:
            yield local
        finally:
            down(local)


@pytest.fixture(scope="module")
def nightly(stack) -> dict[str, Any]:
    """The operator's trigger command (as `make ui` prints it) run to the end with --watch; the flow run."""
    proc = subprocess.run(
        trigger_command(RUN_DATE),
        cwd=PROJECT_DIR,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    worker_log = stack.log_file("worker").read_text()[-4000:]
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}{proc.stderr[-2000:]}\nworker log:\n{worker_log}"
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", proc.stdout)
    assert run_id, proc.stdout
    return api(stack, f"/flow_runs/{run_id[1]}")


def test_up_again_starts_nothing(stack):
    pids = {name: running_pid(stack, name) for name in ("server", "worker")}
    assert all(pids.values())
    assert up(stack) is False
    assert {name: running_pid(stack, name) for name in pids} == pids


def test_lakehouse_run_finds_the_running_server(stack):
    assert running_api_url(stack) == stack.api_url  # `lakehouse run` then starts no temporary server


def test_local_deployments_are_registered(stack):
    spec = yaml.safe_load((PROJECT_DIR / "prefect.yaml").read_text())["deployments"]
    deployments = api(stack, "/deployments/filter", {})
    assert {d["name"] for d in deployments} == {d["name"] for d in spec if d["name"].endswith("-local")}
    for d in deployments:
        assert d["work_pool_name"] == POOL, d["name"]
        pull = d["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
        assert pull["directory"] == str(PROJECT_DIR), d["name"]
    nightly = api(stack, f"/deployments/name/{NIGHTLY}")
    assert [
        (s["schedule"]["cron"], s["schedule"]["timezone"], s["active"]) for s in nightly["schedules"]
    ] == [("0 2 * * *", "UTC", True)]
    assert nightly["parameters"] == {"run_date": None, "scale": None, "full_refresh": False, "generate": True}
    assert nightly["global_concurrency_limit"]["limit"] == 1
    assert nightly["concurrency_options"]["collision_strategy"] == "ENQUEUE"


def _automation(stack: LocalStack) -> dict[str, Any]:
    found = [a for a in api(stack, "/automations/filter", {}) if a["name"] == AUTOMATION]
    assert len(found) == 1, found  # `up` again replaces it, never duplicates it
    return found[0]


def test_make_ui_creates_the_nightly_failed_automation(stack):
    automation = _automation(stack)
    nightly = api(stack, f"/deployments/name/{NIGHTLY}")
    trigger = automation["trigger"]
    assert set(trigger["expect"]) == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert trigger["match_related"] == {"prefect.resource.id": f"prefect.deployment.{nightly['id']}"}
    assert trigger["posture"] == "Reactive" and automation["enabled"]
    assert [a["type"] for a in automation["actions"]] == ["do-nothing"]  # no LAKEHOUSE_ALERT_BLOCK set


def test_a_failed_night_notifies_through_the_block(stack, httpserver):
    """With LAKEHOUSE_ALERT_BLOCK, the automation sends the block's notification when a nightly deployment
    run fails (here: a source that is not registered), to a Slack-format receiver on 127.0.0.1."""
    from prefect.blocks.notifications import MattermostWebhook
    from prefect.settings import PREFECT_API_URL, temporary_settings

    token = "ui-automation-token"
    httpserver.expect_request(f"/hooks/{token}", method="POST").respond_with_data("ok")
    with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
        hook = MattermostWebhook(hostname="127.0.0.1", port=httpserver.port, token=token, secure=False)
        hook.save("ui-alerts", overwrite=True)
    assert "notifies mattermost-webhook/ui-alerts" in ensure_automation(stack, "mattermost-webhook/ui-alerts")
    assert [a["type"] for a in _automation(stack)["actions"]] == ["send-notification"]

    run = subprocess.run(
        [*trigger_command(RUN_DATE, watch=False), "--param", 'sources=["no-such-source"]'],
        cwd=PROJECT_DIR,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    name = re.search(r"Created flow run '([^']+)'", run.stdout)
    assert name, run.stdout
    deadline = time.monotonic() + 600  # the worker starts the run, it fails, the event reaches the trigger
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(1)
    assert httpserver.log, f"no notification; worker log:\n{stack.log_file('worker').read_text()[-3000:]}"
    text = json.loads(httpserver.log[0][0].get_data())["text"]
    assert name[1] in text and "Failed" in text and "/runs/flow-run/" in text  # the run in the UI


def test_nightly_runs_through_the_worker_on_the_workers_lake(stack, nightly):
    assert nightly["state_type"] == "COMPLETED", nightly["state"]
    assert nightly["work_pool_name"] == POOL and nightly["parameters"]["run_date"] == RUN_DATE
    subflows = api(
        stack, "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [nightly["id"]]}}}
    )
    flows = {f["id"]: f["name"] for f in api(stack, "/flows/filter", {})}
    names = sorted(flows[r["flow_id"]] for r in subflows)
    assert names == sorted(["s3-data-pipeline", *STAGE_FLOWS]), names
    assert {r["state_type"] for r in subflows} == {"COMPLETED"}

    dbt_run = next(r for r in subflows if flows[r["flow_id"]] == "dbt-transform")
    tasks = api(stack, "/task_runs/filter", {"flow_runs": {"id": {"any_": [dbt_run["id"]]}}})
    task_names = {t["name"] for t in tasks}
    for node in ("model stg_shop__orders", "model fct_orders", "model dim_customers"):
        assert any(n.startswith(node) for n in task_names), (
            f"{node} has no task run: {sorted(task_names)[:20]}"
        )
    assert {t["state_type"] for t in tasks} == {"COMPLETED"}

    summary = api(stack, "/artifacts/filter", {"artifacts": {"key": {"any_": ["lakehouse-run-summary"]}}})
    assert any(a["flow_run_id"] == nightly["id"] for a in summary)
    lake = Path(stack.env()["LAKEHOUSE_ROOT"])
    assert (lake / "analytics" / "fct_orders" / "_delta_log").is_dir(), (
        "the run did not use the worker's lake"
    )


def _assert_rendered(page: Page, needles: tuple[str, ...]) -> None:
    for needle in needles:
        assert re.search(needle, page.text), (
            f"{needle!r} not on {page.url} ({page.screenshot}): {page.text[:800]}"
        )
    size = page.screenshot.stat().st_size
    colours = distinct_colours(page.screenshot)
    assert size > 20_000 and colours > 200, f"{page.screenshot} looks blank: {size} bytes, {colours} colours"


def test_ui_shows_the_deployment_its_schedule_and_the_completed_run(stack, nightly):
    chromium = ensure_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    deployment = api(stack, f"/deployments/name/{NIGHTLY}")
    schedule = r"At 02:00 AM every day|0 2 \* \* \*"
    run_name = re.escape(nightly["name"])
    pages = {  # screenshot name: (path, what the page must show)
        "dashboard": ("/dashboard", ("Flow Runs", "Task Runs", POOL)),
        "deployments": ("/deployments", ("nightly-local", "lakehouse-nightly", "transform-local", schedule)),
        "deployment-nightly-local": (
            f"/deployments/deployment/{deployment['id']}",
            ("nightly-local", schedule, POOL, run_name, "Completed"),
        ),
        "flow-run-nightly": (f"/runs/flow-run/{nightly['id']}", (run_name, "Completed", "nightly-local")),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(render, chromium, stack.ui_url + path, ARTIFACTS / f"{name}.png", needles)
            for name, (path, needles) in pages.items()
        }
        rendered = {name: future.result() for name, future in futures.items()}
    for name, (_, needles) in pages.items():
        _assert_rendered(rendered[name], needles)


def test_stop_leaves_nothing_running(stack):
    pids = [running_pid(stack, name) for name in ("server", "worker")]
    assert all(pids)
    report = down(stack)
    assert [line.split(":")[0] for line in report] == ["worker", "server"] and "stopped" in " ".join(report)
    for pid in pids:
        info = process(pid)
        assert (info is None or not info.alive) and not group_members(pid), f"process group {pid} still runs"
    assert not stack.pid_file("server").exists() and not stack.pid_file("worker").exists()
    assert not port_in_use(stack.host, stack.port) and not is_healthy(stack)
    assert running_api_url(stack) is None
    assert down(stack) == ["worker: not running", "server: not running"]
