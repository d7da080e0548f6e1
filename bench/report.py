"""The bench's tables as Markdown: medians per stage, the ratio to the floor, memory, the series' growth."""

from __future__ import annotations

import statistics

from bench.harness import STAGES, HistoryResult, Night, ScaleResult, SeriesResult

ROWS = ("startup", *STAGES, "other")
LABELS = {
    "startup": "start-up (process, imports, Prefect flow run, exit)",
    "ingest": "ingest (landing -> raw Delta)",
    "raw_gate": "raw gate (contracts on the night's batches)",
    "dbt": "dbt build (models and tests)",
    "marts_gate": "marts gate (contracts on the candidates)",
    "publish": "publish (commit candidates, catalog views)",
    "features": "features",
    "other": "other (project: recovery, ledger, report; floor: session set-up)",
}


def ratio(project: float, floor: float) -> str:
    return f"{project / floor:.1f}x" if floor >= 0.005 else "—"


def median(nights: list[Night], stage: str | None = None) -> float:
    return statistics.median(n.seconds[stage] if stage else n.total for n in nights)


def scale_table(r: ScaleResult) -> str:
    rows = int(statistics.median(n.counts.get("rows_landed", 0) for n in r.project))
    lines = [
        f"### Scale {r.scale:g} — {rows:,} raw rows landed, median of {len(r.project)} run(s)",
        "",
        "| stage | project s | floor s | project / floor |",
        "|---|---:|---:|---:|",
    ]
    for stage in ROWS:
        p, f = median(r.project, stage), median(r.floor, stage)
        lines.append(f"| {LABELS[stage]} | {p:.2f} | {f:.2f} | {ratio(p, f)} |")
    p, f = median(r.project), median(r.floor)
    lines.append(f"| **whole night** | **{p:.2f}** | **{f:.2f}** | **{ratio(p, f)}** |")
    for label, attr in (
        ("peak RSS of the process tree, MB", "tree_peak_mb"),
        ("max RSS (/usr/bin/time), MB", "time_max_rss_mb"),
    ):
        pm = statistics.median(getattr(n, attr) for n in r.project)
        fm = statistics.median(getattr(n, attr) for n in r.floor)
        lines.append(f"| {label} | {pm:.0f} | {fm:.0f} | {ratio(pm, fm)} |")
    loads = ", ".join(f"{n.load:.1f}" for n in [*r.project, *r.floor])
    lines += ["", f"Load average (1 min) at the start of each run (project runs, then floor runs): {loads}"]
    return "\n".join(lines) + "\n"


def series_table(s: SeriesResult) -> str:
    lines = [
        f"### Incremental series — scale {s.scale:g}, {len(s.dates)} nights on one lake, then a full refresh",
        "",
        "| night | date | project dbt s | project night s | floor dbt s | floor night s | project / floor |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for i, (day, p, f) in enumerate(zip(s.dates, s.project, s.floor, strict=True), start=1):
        project = f"{p.seconds['dbt']:.2f} | {p.total:.2f}"
        floor = f"{f.seconds['dbt']:.2f} | {f.total:.2f}"
        lines.append(f"| {i} | {day} | {project} | {floor} | {ratio(p.total, f.total)} |")
    fr = s.full_refresh
    lines.append(f"| full refresh | {s.dates[-1]} | {fr.seconds['dbt']:.2f} | {fr.total:.2f} | | | |")
    lines.append("")
    if len(s.project) >= 2:
        n, second = s.project[-1], s.project[1]
        dbt = ratio(n.seconds["dbt"], second.seconds["dbt"])
        lines.append(
            f"- growth, night {len(s.project)} vs night 2: dbt {dbt}, night {ratio(n.total, second.total)}"
        )
    last = s.project[-1]
    dbt = ratio(fr.seconds["dbt"], last.seconds["dbt"])
    lines.append(
        f"- full refresh vs incremental night {len(s.project)}: dbt {dbt}, "
        f"night {ratio(fr.total, last.total)}"
    )
    peak = max(n.tree_peak_mb for n in [*s.project, fr])
    lines.append(f"- peak RSS of the project's process tree over the series: {peak:.0f} MB")
    loads = ", ".join(f"{n.load:.1f}" for n in [*s.project, fr])
    lines.append(f"- load average (1 min) at the start of each project night: {loads}")
    return "\n".join(lines) + "\n"


def history_table(h: HistoryResult) -> str:
    night_rows = h.incremental.counts.get("rows_landed", 0)
    share = 100 * night_rows / max(h.history_rows, 1)
    lines = [
        f"### A night on a long history — scale {h.scale:g}, {h.days} dates of history "
        f"({h.history_rows:,} raw rows), then a night of {night_rows:,} new or changed rows ({share:.1f} %)",
        "",
        "| night | dbt s | whole night s | peak RSS of the tree, MB |",
        "|---|---:|---:|---:|",
    ]
    for label, n in (
        (f"date {h.days}: the marts built from empty over the history", h.build),
        (f"date {h.days + 1}: incremental", h.incremental),
        (f"date {h.days + 1} again: --full-refresh on the same lake", h.full_refresh),
    ):
        lines.append(f"| {label} | {n.seconds['dbt']:.2f} | {n.total:.2f} | {n.tree_peak_mb:.0f} |")
    inc, full = h.incremental, h.full_refresh
    lines += [
        "",
        f"- the incremental night against the full refresh of the same lake: dbt stage "
        f"{100 * inc.seconds['dbt'] / max(full.seconds['dbt'], 0.001):.1f} %, "
        f"whole night {100 * inc.total / max(full.total, 0.001):.1f} %",
        f"- load average (1 min) at the start: {h.build.load:.1f}, {inc.load:.1f}, {full.load:.1f}",
    ]
    return "\n".join(lines) + "\n"
