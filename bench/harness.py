"""The bench harness: generate landing files once per scale, then run the project and the floor on fresh
copies of the lake (median of several runs), and an incremental series of nights on one lake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bench.floor import RUN_DATE_SENTINEL
from bench.measure import Measurement, measure
from lakehouse.settings import DBT_PROJECT_DIR, PROJECT_DIR, TELEMETRY_OFF

BIN = Path(sys.executable).parent
STAGES = ("ingest", "raw_gate", "dbt", "marts_gate", "publish", "features")
SCALE_DATE = date(2026, 11, 20)
SERIES_START = date(2026, 11, 1)


@dataclass
class Night:
    """One measured night: seconds per stage (with start-up and other), the total and the peak memory."""

    seconds: dict[str, float]
    total: float
    tree_peak_mb: float
    time_max_rss_mb: float
    counts: dict[str, int] = field(default_factory=dict)
    load: float = 0.0  # 1-minute load average at the start of the run


def lake_env(lake: Path, prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "PREFECT_API"))}
    return (
        env
        | TELEMETRY_OFF
        | {
            "LAKEHOUSE_ROOT": str(lake),
            "LAKEHOUSE_CATALOG": str(lake / "_catalog" / "lakehouse.duckdb"),
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
        }
    )


def generate(template: Path, scale: float, days: list[date]) -> Path:
    """The landing files of `days` at `scale`, written once into `template`/landing (kept between benches)."""
    span = f"{days[0].isoformat()}-{days[-1].isoformat()}-{len(days)}" if days else "none"
    done = template / f".generated-{span}"  # a name of bounded length, also for a 30-night series
    if not done.exists():
        shutil.rmtree(template, ignore_errors=True)
        template.mkdir(parents=True)
        script = (
            "import sys; from datetime import date; from ingestion.shop.generator import generate_landing\n"
            "for d in sys.argv[2:]: generate_landing(date.fromisoformat(d), scale=float(sys.argv[1]))"
        )
        env = lake_env(template, template / ".prefect")
        cmd = [sys.executable, "-c", script, str(scale), *(d.isoformat() for d in days)]
        subprocess.run(cmd, env=env, check=True, cwd=PROJECT_DIR)
        done.touch()
    return template / "landing"


def fresh_lake(landing: Path, lake: Path) -> Path:
    """A new lake holding only the landing files (hard links: instant, and no run writes into landing/)."""
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(landing), str(lake / "landing")], check=True)
    return lake


def compile_project(work: Path) -> Path:
    """`dbt compile` once (run_date is a sentinel the floor replaces); returns the manifest."""
    target = work / "dbt-target"
    lake = work / "compile-lake"
    lake.mkdir(parents=True, exist_ok=True)
    args = [str(BIN / "dbt"), "compile", "--target-path", str(target), "--project-dir", str(DBT_PROJECT_DIR)]
    args += ["--profiles-dir", str(DBT_PROJECT_DIR), "--vars", json.dumps({"run_date": RUN_DATE_SENTINEL})]
    result = subprocess.run(args, env=lake_env(lake, work / ".prefect"), capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"dbt compile failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return target / "manifest.json"


def _checked(m: Measurement, what: str, log: Path) -> Measurement:
    if m.returncode:
        raise RuntimeError(f"{what} failed (exit {m.returncode}); see {log}:\n{m.output[-3000:]}")
    return m


def _night(m: Measurement, stages: dict[str, float], inner: float, counts: dict[str, int]) -> Night:
    seconds = {"startup": round(m.seconds - inner, 3)} | {s: stages.get(s, 0.0) for s in STAGES}
    seconds["other"] = round(inner - sum(stages.get(s, 0.0) for s in STAGES), 3)
    return Night(
        seconds, round(m.seconds, 3), round(m.tree_peak_mb), round(m.time_max_rss_mb), counts, m.load
    )


def run_project(
    lake: Path, day: date, work: Path, log: Path, full_refresh: bool = False, api_url: str | None = None
) -> Night:
    """`lakehouse run --no-generate` on `lake`; stage times from the run's summary in ops/runs/. With
    `api_url` the run reports to that running Prefect server (as a deployment's run does), else it starts
    Prefect's temporary server (a child process, counted in the tree's memory)."""
    cmd = [str(BIN / "lakehouse"), "run", "--date", day.isoformat(), "--no-generate"]
    cmd += ["--full-refresh"] if full_refresh else []
    before = set((lake / "ops" / "runs" / day.isoformat()).glob("*.json"))
    env = lake_env(lake, work / ".prefect") | ({"PREFECT_API_URL": api_url} if api_url else {})
    m = _checked(measure(cmd, env, log, cwd=PROJECT_DIR), "lakehouse run", log)
    (summary_file,) = set((lake / "ops" / "runs" / day.isoformat()).glob("*.json")) - before
    summary = json.loads(summary_file.read_text())
    landed = sum(t["rows_landed"] for t in summary["landed"])
    return _night(m, summary["stage_seconds"], summary["seconds"], {"rows_landed": landed})


def run_floor(lake: Path, day: date, manifest: Path, work: Path, log: Path) -> Night:
    out = log.with_suffix(".json")
    cmd = [sys.executable, "-m", "bench.floor", "--date", day.isoformat(), "--manifest", str(manifest)]
    m = _checked(
        measure([*cmd, "--out", str(out)], lake_env(lake, work / ".prefect"), log, PROJECT_DIR), "floor", log
    )
    result = json.loads(out.read_text())
    return _night(m, result["stage_seconds"], result["seconds"], result["counts"])


@dataclass
class ScaleResult:
    scale: float
    project: list[Night]
    floor: list[Night]


def bench_scale(
    scale: float, runs: int, work: Path, manifest: Path, api_url: str | None = None
) -> ScaleResult:
    """`runs` nights of the project and of the floor, each on a fresh lake with the same landing files."""
    landing = generate(work / f"landing-{scale:g}", scale, [SCALE_DATE])
    result = ScaleResult(scale, [], [])
    for i in range(runs):
        lake = fresh_lake(landing, work / "lake")
        log = work / f"project-{scale:g}-{i}.log"
        result.project.append(run_project(lake, SCALE_DATE, work, log, api_url=api_url))
        lake = fresh_lake(landing, work / "lake")
        result.floor.append(run_floor(lake, SCALE_DATE, manifest, work, work / f"floor-{scale:g}-{i}.log"))
        print(
            f"scale {scale:g} run {i + 1}/{runs}: project {result.project[-1].total:.1f} s, "
            f"floor {result.floor[-1].total:.1f} s",
            flush=True,
        )
    shutil.rmtree(work / "lake", ignore_errors=True)
    return result


@dataclass
class SeriesResult:
    scale: float
    dates: list[date]
    project: list[Night]
    floor: list[Night]
    full_refresh: Night


def bench_series(
    scale: float, nights: int, work: Path, manifest: Path, api_url: str | None = None
) -> SeriesResult:
    """`nights` dates in a row on one lake (project and floor each), then the project's --full-refresh."""
    days = [SERIES_START + timedelta(days=i) for i in range(nights)]
    landing = generate(work / f"landing-series-{scale:g}", scale, days)
    project_lake = fresh_lake(landing, work / "series-project")
    floor_lake = fresh_lake(landing, work / "series-floor")
    result = SeriesResult(scale, days, [], [], Night({}, 0, 0, 0))
    for i, day in enumerate(days):
        log = work / f"series-project-{i}.log"
        result.project.append(run_project(project_lake, day, work, log, api_url=api_url))
        result.floor.append(run_floor(floor_lake, day, manifest, work, work / f"series-floor-{i}.log"))
        print(f"series night {i + 1}/{nights}: project {result.project[-1].total:.1f} s", flush=True)
    log = work / "series-full-refresh.log"
    result.full_refresh = run_project(project_lake, days[-1], work, log, full_refresh=True, api_url=api_url)
    return result


@dataclass
class HistoryResult:
    """A lake with `days` dates of history, its next night incremental, then that night as a full refresh."""

    scale: float
    days: int
    history_rows: int  # raw rows landed before the measured night (every date up to `days`)
    build: Night  # the last history date's night: the marts built from empty over the whole history
    incremental: Night  # the next date: the night the issue calls "about 1 % new or changed rows"
    full_refresh: Night  # the same date again with --full-refresh, on the same lake


def land_history(lake: Path, days: list[date], work: Path, log: Path) -> int:
    """Ingest `days` into `lake` in one process (the loader only: no gates, no dbt); the raw rows landed."""
    script = (
        "import sys; from datetime import date; from ingestion.loader import ingest_date\n"
        "print('history rows:', sum(ingest_date(date.fromisoformat(d)).rows_landed for d in sys.argv[1:]))"
    )
    cmd = [sys.executable, "-c", script, *(d.isoformat() for d in days)]
    m = _checked(measure(cmd, lake_env(lake, work / ".prefect"), log, PROJECT_DIR), "history ingest", log)
    (line,) = [line for line in m.output.splitlines() if line.startswith("history rows: ")]
    return int(line.split(": ")[1])


def bench_history(scale: float, days: int, work: Path, api_url: str | None = None) -> HistoryResult:
    """`days` dates of landing files; all but the last land through the loader alone, the last one as a
    night (building the marts), then the next date as an incremental night and again as a full refresh."""
    dates = [SERIES_START - timedelta(days=days - i) for i in range(days + 1)]
    landing = generate(work / f"landing-history-{scale:g}", scale, dates)
    lake = fresh_lake(landing, work / "history")
    rows = land_history(lake, dates[:-2], work, work / "history-ingest.log")
    build = run_project(lake, dates[-2], work, work / "history-build.log", api_url=api_url)
    incremental = run_project(lake, dates[-1], work, work / "history-night.log", api_url=api_url)
    log = work / "history-full-refresh.log"
    full = run_project(lake, dates[-1], work, log, full_refresh=True, api_url=api_url)
    history = rows + build.counts.get("rows_landed", 0)
    return HistoryResult(scale, days, history, build, incremental, full)
