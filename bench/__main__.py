"""`python -m bench` (make bench): the project against its floor at each scale, then an incremental series."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

from bench.harness import bench_history, bench_scale, bench_series, compile_project
from bench.overhead import bench_overhead, overhead_table, prefect_server
from bench.report import history_table, scale_table, series_table


def machine() -> str:
    """CPU model, cores, RAM and load average, as lscpu and /proc report them."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    cores = len(
        [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("processor")]
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    load = Path("/proc/loadavg").read_text().split()[:3]
    return f"{cpu}, {cores} cores, {mem_kb / 2**20:.1f} GiB RAM, load average {' '.join(load)} at start"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="*", default=[200.0, 2000.0])
    parser.add_argument("--runs", type=int, default=3, help="runs per scale; medians are quoted")
    parser.add_argument("--nights", type=int, default=7, help="nights of the incremental series (0: none)")
    parser.add_argument("--series-scale", type=float, default=None, help="default: the smallest scale")
    parser.add_argument(
        "--history-days",
        type=int,
        default=100,
        help="dates of history before the 'about 1 %% new rows' night (0: none)",
    )
    parser.add_argument("--history-scale", type=float, default=20.0, help="scale of each history date")
    parser.add_argument(
        "--overhead-runs", type=int, default=None, help="Prefect fixed-cost runs (default: --runs; 0: none)"
    )
    parser.add_argument("--overhead-scale", type=float, default=1.0, help="scale of the fixed-cost runs")
    parser.add_argument(
        "--prefect-api", default=None, help="a running Prefect server's API URL (default: start one)"
    )
    parser.add_argument("--work", type=Path, default=Path(".bench"), help="landing files, lakes, logs")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables to this file")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    work = args.work.resolve()
    header = f"Machine: {machine()}\n"
    print(header, flush=True)
    manifest = compile_project(work)
    parts = [header]
    with prefect_server(work, args.prefect_api) as api_url:  # the project's nights report to a running server
        for scale in args.scales:
            parts.append(scale_table(bench_scale(scale, args.runs, work, manifest, api_url)))
            print(parts[-1], flush=True)
        if args.nights:
            series_scale = args.series_scale or min(args.scales or [1.0])
            parts.append(series_table(bench_series(series_scale, args.nights, work, manifest, api_url)))
            print(parts[-1], flush=True)
        if args.history_days:
            history = bench_history(args.history_scale, args.history_days, work, api_url)
            parts.append(history_table(history))
            print(parts[-1], flush=True)
        overhead_runs = args.runs if args.overhead_runs is None else args.overhead_runs
        if overhead_runs:
            results = bench_overhead(args.overhead_scale, overhead_runs, work, api_url)
            parts.append(overhead_table(args.overhead_scale, results))
            print(parts[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(parts))


if __name__ == "__main__":
    main()
