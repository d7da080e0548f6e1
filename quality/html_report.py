"""The static HTML quality report: charts over the quality ledger for the days up to a run date.

One self-contained file (plotly.js is inlined: it opens from disk with no server and no network). The ledger
is read with deltalake as Arrow and aggregated with DuckDB; plotly gets plain lists of the small results.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
import pyarrow as pa
from plotly.offline import get_plotlyjs

from lakehouse.files import write_text
from lakehouse.lake import open_table
from lakehouse.layout import quality_report
from lakehouse.settings import Settings, get_settings
from quality.ledger import ledger_uri

CHECK_LAYERS = (
    "raw",
    "marts",
    "ingest",
    "dbt",
    "monitor",
)  # rows that pass, warn or fail (not volume/publish)
OUTCOME_COLOURS = {
    "passed": "#2e9d5b",
    "skipped": "#9aa5b1",
    "warned": "#e0a526",
    "failed": "#d64545",
    "error": "#8b1e1e",
}
SYMBOLS = {"withheld": "x", "restored": "diamond"}
DECISION_COLOURS = {"published": "#2e9d5b", "withheld": "#d64545", "restored": "#3b7dd8"}
FAILING = ("failed", "error", "withheld", "missing")
MAX_FAILING_ROWS = 200

# Shown instead of the charts if any script fails (a broken report must not look like an empty one).
ERROR_BANNER = """<script>
window.addEventListener("error", function (e) {
  var b = document.getElementById("js-error");
  b.hidden = false; b.textContent += " " + (e.message || e.type);
});
</script>"""

STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1280px; color: #1f2933; }
h1 { margin-bottom: 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #e4e7eb; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { border: 1px solid #e4e7eb; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 22px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 4px 6px; text-align: left; vertical-align: top; }
table.sample { width: auto; font-size: 12px; background: #f5f7fa; }
.failed, .error, .withheld, .missing { color: #b42318; font-weight: 600; }
#js-error { background: #b42318; color: white; padding: 8px; }
.empty { color: #7b8794; font-style: italic; }
</style>"""


@dataclass
class QualityReport:
    """What the report shows, in numbers, and where it was written."""

    run_date: date
    days: int
    uri: str
    outcomes: dict[str, int] = field(default_factory=dict)  # check outcomes over the window
    latest: dict[str, int] = field(default_factory=dict)  # check outcomes of the run date
    withheld: int = 0  # withheld publications over the window
    failing: list[dict[str, Any]] = field(default_factory=list)  # failing rows, newest first

    def to_markdown(self) -> str:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in self.latest.items()) or "no checks recorded"
        lines = [
            f"# Quality report for {self.run_date.isoformat()}",
            "",
            f"Report: `{self.uri}` (static HTML, {self.days} days up to {self.run_date})",
            "",
            f"Checks on {self.run_date}: {counts}. Withheld publications in the window: {self.withheld}.",
        ]
        today = [r for r in self.failing if r["run_date"] == self.run_date]
        if today:
            lines += ["", "| table | check | outcome | detail |", "|---|---|---|---|"]
            lines += [
                f"| {r['dataset']} | {r['check_name']} | {r['outcome']} | {(r['detail'] or '')[:120]} |"
                for r in today[:20]
            ]
        return "\n".join(lines)


def read_ledger(settings: Settings | None = None) -> pa.Table | None:
    """The whole ledger as Arrow (it is small: a few hundred rows a night), or None when there is none."""
    table = open_table(ledger_uri(settings), settings)
    return None if table is None else table.to_pyarrow_table()


def latest_run_date(settings: Settings | None = None) -> date | None:
    ledger = read_ledger(settings)
    if ledger is None or ledger.num_rows == 0:
        return None
    return max(ledger.column("run_date").to_pylist())


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return con.execute(sql, params).to_arrow_table().to_pylist()


def report_data(ledger: pa.Table, run_date: date, days: int) -> dict[str, list[dict[str, Any]]]:
    """The small aggregates each chart draws, from the ledger rows of the `days` days up to `run_date`."""
    first = run_date - timedelta(days=days - 1)
    checks = "layer IN ({})".format(", ".join(f"'{layer}'" for layer in CHECK_LAYERS))
    with duckdb.connect() as con:
        con.register("all_rows", ledger)
        con.execute(
            "CREATE TEMP VIEW ledger AS SELECT * FROM all_rows "
            f"WHERE run_date BETWEEN DATE '{first.isoformat()}' AND DATE '{run_date.isoformat()}'"
        )
        return {
            "outcomes": _query(
                con,
                f"SELECT run_date, dataset, outcome, count(*) AS n FROM ledger WHERE {checks} "
                "GROUP BY ALL ORDER BY ALL",
                [],
            ),
            "volumes": _query(
                con,
                "SELECT run_date, dataset, value FROM ledger WHERE layer = 'volume' AND value IS NOT NULL "
                "ORDER BY dataset, run_date",
                [],
            ),
            "freshness": _query(
                con,
                "SELECT run_date, dataset, max(value) AS hours FROM ledger WHERE check_type = 'freshness' "
                "AND value IS NOT NULL GROUP BY ALL ORDER BY dataset, run_date",
                [],
            ),
            "decisions": _query(
                con,
                "SELECT run_date, dataset, outcome, table_version, detail FROM ledger "
                "WHERE layer = 'publish' ORDER BY run_date, dataset",
                [],
            ),
            "failing": _query(
                con,
                'SELECT run_date, source, layer, dataset, check_name, check_type, "column", outcome, level, '
                "value, threshold, detail, sample FROM ledger WHERE list_contains(?, outcome) "
                "ORDER BY run_date DESC, outcome, dataset, check_name LIMIT ?",
                [list(FAILING), MAX_FAILING_ROWS],
            ),
        }


# ----- charts


DAY_AXIS = {"type": "category", "categoryorder": "category ascending"}  # ISO dates sort as text
RANK = {"passed": 0, "skipped": 1, "warned": 2, "failed": 3, "error": 3}


def outcome_heatmap(rows: list[dict[str, Any]]) -> go.Figure:
    """The worst outcome per table per day; the hover lists the counts."""
    days = sorted({r["run_date"] for r in rows})
    tables = sorted({r["dataset"] for r in rows}, reverse=True)
    worst: dict[tuple[str, date], int] = {}
    counts: dict[tuple[str, date], list[str]] = defaultdict(list)
    for r in rows:
        key = (r["dataset"], r["run_date"])
        worst[key] = max(worst.get(key, 0), RANK.get(r["outcome"], 3))
        counts[key].append(f"{r['n']} {r['outcome']}")
    z = [[worst.get((t, d)) for d in days] for t in tables]
    text = [[", ".join(counts.get((t, d), [])) for d in days] for t in tables]
    scale = [[0, OUTCOME_COLOURS["passed"]], [0.25, OUTCOME_COLOURS["passed"]]]
    scale += [[0.25, OUTCOME_COLOURS["skipped"]], [0.5, OUTCOME_COLOURS["skipped"]]]
    scale += [[0.5, OUTCOME_COLOURS["warned"]], [0.75, OUTCOME_COLOURS["warned"]]]
    scale += [[0.75, OUTCOME_COLOURS["failed"]], [1, OUTCOME_COLOURS["failed"]]]
    heatmap = go.Heatmap(
        x=[d.isoformat() for d in days], y=tables, z=z, text=text, zmin=-0.5, zmax=3.5, colorscale=scale,
        xgap=2, ygap=2, hovertemplate="%{y} on %{x}: %{text}<extra></extra>",
        colorbar={"tickvals": [0, 1, 2, 3], "ticktext": ["passed", "skipped", "warned", "failed"]},
    )  # fmt: skip
    height = max(320, 22 * len(tables) + 120)
    return go.Figure(heatmap).update_layout(height=height, xaxis=DAY_AXIS)


def outcome_bars(rows: list[dict[str, Any]]) -> go.Figure:
    """Checks per day, stacked by outcome."""
    per: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        per[r["outcome"]][r["run_date"]] += r["n"]
    days = sorted({r["run_date"] for r in rows})
    bars = [
        go.Bar(name=outcome, x=[d.isoformat() for d in days], y=[per[outcome][d] for d in days],
               marker_color=colour)
        for outcome, colour in OUTCOME_COLOURS.items()
        if outcome in per
    ]  # fmt: skip
    return go.Figure(bars).update_layout(barmode="stack", height=320, xaxis=DAY_AXIS)


def lines(rows: list[dict[str, Any]], value: str, y_title: str) -> go.Figure:
    """One line per table over the days."""
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        series[r["dataset"]].append(r)
    traces = [
        go.Scatter(name=name, mode="lines+markers", x=[p["run_date"].isoformat() for p in points],
                   y=[p[value] for p in points])
        for name, points in sorted(series.items())
    ]  # fmt: skip
    return go.Figure(traces).update_layout(height=360, yaxis_title=y_title, xaxis=DAY_AXIS)


def decisions_chart(rows: list[dict[str, Any]]) -> go.Figure:
    """Publish decisions per mart per day; withheld ones stand out in red."""
    traces = []
    for decision, colour in DECISION_COLOURS.items():
        points = [r for r in rows if r["outcome"] == decision]
        if points:
            traces.append(
                go.Scatter(
                    name=decision, mode="markers", x=[p["run_date"].isoformat() for p in points],
                    y=[p["dataset"] for p in points], text=[p["detail"] or "" for p in points],
                    marker={"color": colour, "size": 14, "symbol": SYMBOLS.get(decision, "circle")},
                    hovertemplate="%{y} on %{x}: " + decision + "<br>%{text}<extra></extra>",
                )
            )  # fmt: skip
    return go.Figure(traces).update_layout(height=300, xaxis=DAY_AXIS)


# ----- HTML


def _figure(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(margin={"l": 60, "r": 20, "t": 20, "b": 40}, template="plotly_white")
    return str(
        fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})
    )


def _section(title: str, body: str, rows: list[dict[str, Any]], empty: str) -> str:
    content = body if rows else f'<p class="empty">{html.escape(empty)}</p>'
    return f"<section><h2>{html.escape(title)}</h2>{content}</section>"


def sample_table(sample: str | None) -> str:
    """The `sample` column's JSON rows as a small HTML table (the raw text when it is not a list of rows)."""
    if not sample:
        return ""
    try:
        rows = json.loads(sample)
    except json.JSONDecodeError:
        return f"<pre>{html.escape(sample)}</pre>"
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows) or not rows:
        return f"<pre>{html.escape(sample)}</pre>"
    columns = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f'<table class="sample"><tr>{head}</tr>{body}</table>'


def failing_table(rows: list[dict[str, Any]]) -> str:
    header = ["date", "source", "table", "check", "column", "outcome", "value", "detail and sample rows"]
    out = ['<table id="failing-checks"><tr>' + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
    for r in rows:
        value = "" if r["value"] is None else f"{r['value']:g}"
        cells = [r["run_date"].isoformat(), r["source"] or r["layer"], r["dataset"], r["check_name"],
                 r["column"] or "", r["outcome"], value]  # fmt: skip
        tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells[:5])
        tds += f'<td class="{html.escape(r["outcome"])}">{html.escape(r["outcome"])}</td>'
        tds += f"<td>{html.escape(value)}</td>"
        tds += f"<td>{html.escape(r['detail'] or '')}{sample_table(r['sample'])}</td>"
        out.append(f"<tr>{tds}</tr>")
    return "".join(out) + "</table>"


def _cards(report: QualityReport) -> str:
    cards = [(f"checks on {report.run_date}", sum(report.latest.values()))]
    cards += [(outcome, report.latest.get(outcome, 0)) for outcome in ("passed", "warned", "failed", "error")]
    cards += [(f"withheld in {report.days} days", report.withheld)]
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{n}</b>{html.escape(label)}</div>' for label, n in cards
    ) + "</div>"  # fmt: skip


def render_html(report: QualityReport, data: dict[str, list[dict[str, Any]]]) -> str:
    outcomes, volumes, fresh = data["outcomes"], data["volumes"], data["freshness"]
    decisions = data["decisions"]
    checks = _figure(outcome_heatmap(outcomes), "outcomes-heatmap")
    checks += _figure(outcome_bars(outcomes), "outcomes-per-day")
    sections = [
        _section("Checks per table per day (worst outcome)", checks, outcomes,
                 "No check results in the ledger for these days."),
        _section("Rows per table", _figure(lines(volumes, "value", "rows"), "volumes"), volumes,
                 "No volume rows in the ledger for these days."),
        _section("Freshness lag (hours behind the end of the run date)",
                 _figure(lines(fresh, "hours", "hours"), "freshness"), fresh,
                 "No freshness checks in the ledger for these days."),
        _section("Publish decisions", _figure(decisions_chart(decisions), "publications"), decisions,
                 "No publish decisions in the ledger for these days."),
        _section("Failing checks and withheld publications", failing_table(report.failing), report.failing,
                 "Nothing failed in these days."),
    ]  # fmt: skip
    first = report.run_date - timedelta(days=report.days - 1)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Quality report {report.run_date.isoformat()}</title>
{STYLE}
{ERROR_BANNER}
<script>{get_plotlyjs()}</script>
</head><body>
<div id="js-error" hidden>A chart failed to render:</div>
<h1>Quality report for {report.run_date.isoformat()}</h1>
<p>From the quality ledger, {first.isoformat()} to {report.run_date.isoformat()}: dbt tests, Soda contracts,
schema drift, volumes and publish decisions.</p>
{_cards(report)}
{"".join(sections)}
</body></html>
"""


def build_report(
    run_date: date, days: int = 30, settings: Settings | None = None, out: str | None = None
) -> tuple[QualityReport, str]:
    """The report's numbers and its HTML for the `days` days up to `run_date`. Raises FileNotFoundError when
    the lake has no ledger yet."""
    settings = settings or get_settings()
    ledger = read_ledger(settings)
    if ledger is None:
        raise FileNotFoundError(
            f"No quality ledger at {ledger_uri(settings)}: run the pipeline (lakehouse run) or "
            "`lakehouse quality scan --ledger` first"
        )
    data = report_data(ledger, run_date, days)
    latest: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for r in data["outcomes"]:
        totals[r["outcome"]] += r["n"]
        if r["run_date"] == run_date:
            latest[r["outcome"]] += r["n"]
    report = QualityReport(
        run_date=run_date,
        days=days,
        uri=out or quality_report(run_date, settings),
        outcomes=dict(totals),
        latest=dict(latest),
        withheld=sum(1 for r in data["decisions"] if r["outcome"] == "withheld"),
        failing=data["failing"],
    )
    return report, render_html(report, data)


def write_report(
    run_date: date, days: int = 30, settings: Settings | None = None, out: str | None = None
) -> QualityReport:
    """Write the HTML report to `out` (a local path) or the lake's quality/reports/<date>.html."""
    settings = settings or get_settings()
    report, text = build_report(run_date, days, settings, out)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
    else:
        write_text(report.uri, text, settings)
    return report
