"""Prefect's fixed cost against a running server: start-up to the first task run, overhead per dbt node.

Per run, on a fresh lake with the scale's landing files and a local Prefect server already up:
1. `lakehouse run --date D --no-generate`: *start-up to first task* is the first task run's start time (read
   from the server's API) minus the moment the command was started.
2. `python orchestration/flows/transform/dbt_transform.py --date D --run-id bench-flow-<i>`: the dbt stage as
   the night runs it (one task run per node); its seconds are the flow run's start to end in the API, its
   node count the flow run's task runs.
3. `dbt build` from dbt_project/ with the same run values (LAKEHOUSE_DBT_*): plain dbt, timed around the
   process (interpreter and imports included, as dbt's own start-up is inside the flow's seconds too).
Steps 2 and 3 build the same candidates on the same lake. Overhead per node = (2 - 3) / nodes. On a busy
machine wall seconds swing with the load: the CPU seconds of both processes (user + system, from
getrusage) are reported too; the flow's include Prefect's import and flow run, so their difference per node
is an upper bound of Prefect's share.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.harness import BIN, SCALE_DATE, fresh_lake, generate, lake_env
from bench.measure import load_average
from lakehouse.settings import DBT_PROJECT_DIR, PROJECT_DIR
from lakehouse.transform import dbt_run_env, dbt_run_vars


@dataclass
class Overhead:
    """One measured run: start-up to the first task run, the dbt flow and plain dbt, the nodes run."""

    startup_to_first_task: float
    dbt_flow: float
    plain_dbt: float
    nodes: int
    load: float
    dbt_flow_cpu: float = 0.0  # CPU seconds (user + system) of the flow's process
    plain_dbt_cpu: float = 0.0

    @property
    def per_node_ms(self) -> float:
        return 1000 * (self.dbt_flow - self.plain_dbt) / max(self.nodes, 1)

    @property
    def per_node_cpu_ms(self) -> float:
        return 1000 * (self.dbt_flow_cpu - self.plain_dbt_cpu) / max(self.nodes, 1)


def api(url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _since(started: float) -> dict[str, Any]:
    return {"start_time": {"after_": datetime.fromtimestamp(started - 1, UTC).isoformat()}}


@contextmanager
def prefect_server(work: Path, api_url: str | None = None) -> Iterator[str]:
    """`api_url` when given, else a `prefect server start` of the bench's own (PREFECT_HOME in `work`) on a
    free port, stopped after."""
    if api_url:
        yield api_url
        return
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = lake_env(work, work / ".prefect-server")
    log = (work / "prefect-server.log").open("w")
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "/health", timeout=5).read()
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> float:
    """Run `cmd` (its output to `log`); its CPU seconds, user + system."""
    cpu = _children_cpu()
    with log.open("w") as out:
        result = subprocess.run(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed (exit {result.returncode}); see {log}")
    return _children_cpu() - cpu


def startup_to_first_task(lake: Path, day: date, env: dict[str, str], url: str, log: Path) -> float:
    started = time.time()
    _run([str(BIN / "lakehouse"), "run", "--date", day.isoformat(), "--no-generate"], env, PROJECT_DIR, log)
    runs = api(url, "/task_runs/filter", {"task_runs": _since(started), "limit": 200})
    return min(_at(r["start_time"]) for r in runs if r["start_time"]) - started


def dbt_flow(day: date, run_id: str, env: dict[str, str], url: str, log: Path) -> tuple[float, int, float]:
    """The dbt-transform flow alone: its run's seconds (API start to end), its task runs, the process's CPU
    seconds."""
    started = time.time()
    script = PROJECT_DIR / "orchestration" / "flows" / "transform" / "dbt_transform.py"
    cmd = [str(BIN / "python"), str(script), "--date", day.isoformat(), "--run-id", run_id]
    cpu = _run(cmd, env, PROJECT_DIR, log)
    (flow_run,) = api(url, "/flow_runs/filter", {"flow_runs": _since(started), "limit": 5})
    nodes = api(url, "/task_runs/count", {"flow_runs": {"id": {"any_": [flow_run["id"]]}}})
    return _at(flow_run["end_time"]) - _at(flow_run["start_time"]), int(nodes), cpu


def plain_dbt(day: date, run_id: str, env: dict[str, str], log: Path) -> tuple[float, float]:
    """Wall and CPU seconds of `dbt build` from dbt_project/ with the run values."""
    started = time.perf_counter()
    env = env | dbt_run_env(dbt_run_vars(day, run_id))
    cpu = _run([str(BIN / "dbt"), "build"], env, DBT_PROJECT_DIR, log)
    return time.perf_counter() - started, cpu


def bench_overhead(scale: float, runs: int, work: Path, api_url: str | None = None) -> list[Overhead]:
    """`runs` measurements at `scale` against a running Prefect server (`api_url`, else one of its own)."""
    landing = generate(work / f"landing-{scale:g}", scale, [SCALE_DATE])
    results = []
    with prefect_server(work, api_url) as url:
        for i in range(runs):
            lake = fresh_lake(landing, work / "lake")
            env = lake_env(lake, work / ".prefect-client") | {"PREFECT_API_URL": url}
            load = load_average()
            startup = startup_to_first_task(lake, SCALE_DATE, env, url, work / f"overhead-run-{i}.log")
            flow, nodes, flow_cpu = dbt_flow(
                SCALE_DATE, f"bench-flow-{i}", env, url, work / f"overhead-flow-{i}.log"
            )
            plain, plain_cpu = plain_dbt(SCALE_DATE, f"bench-plain-{i}", env, work / f"overhead-dbt-{i}.log")
            results.append(
                Overhead(
                    round(startup, 3),
                    round(flow, 3),
                    round(plain, 3),
                    nodes,
                    load,
                    round(flow_cpu, 3),
                    round(plain_cpu, 3),
                )
            )
            print(f"overhead run {i + 1}/{runs}: {results[-1]}", flush=True)
    return results


def overhead_table(scale: float, results: list[Overhead]) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    flow, plain = med([r.dbt_flow for r in results]), med([r.plain_dbt for r in results])
    nodes = int(med([r.nodes for r in results]))
    lines = [
        f"### Prefect's fixed cost — scale {scale:g}, running local server, median of {len(results)} run(s)",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| start-up to first task run (`lakehouse run` started -> first task run started), s "
        f"| {med([r.startup_to_first_task for r in results]):.2f} |",
        f"| dbt stage in its flow (one task run per node), s | {flow:.2f} |",
        f"| plain `dbt build`, same lake and run values, s | {plain:.2f} |",
        f"| dbt stage / plain dbt | {flow / plain:.2f}x |",
        f"| dbt nodes run (task runs) | {nodes} |",
        f"| Prefect overhead per dbt node, ms | {med([r.per_node_ms for r in results]):.0f} |",
        f"| CPU s: dbt flow process / plain `dbt build` process "
        f"| {med([r.dbt_flow_cpu for r in results]):.1f} / {med([r.plain_dbt_cpu for r in results]):.1f} |",
        f"| CPU per dbt node beyond plain dbt (Prefect import and flow run included), ms "
        f"| {med([r.per_node_cpu_ms for r in results]):.0f} |",
        "",
        "Load average (1 min) at the start of each run: " + ", ".join(f"{r.load:.1f}" for r in results),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(".bench"))
    parser.add_argument("--prefect-api", default=os.environ.get("BENCH_PREFECT_API"), help="a running server")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = bench_overhead(args.scale, args.runs, args.work.resolve(), args.prefect_api)
    print(overhead_table(args.scale, results))


if __name__ == "__main__":
    main()
