"""`lakehouse monitor [--date D]`: the monitor's checks of a date in the terminal (quality/monitoring).

Wiring only: run_monitor judges freshness, volume, drift and performance from the lake; with `--record` the
checks replace the date's monitor rows in the quality ledger. It sends no alert (the monitor flow, run by the
nightly, does). Exit 0: no finding; 1: findings (so scripts can use it); 2: a usage error.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.dates import parse_run_date
from quality.monitoring.findings import MonitorReport
from quality.monitoring.monitor import record_monitor, run_monitor

monitor_app = typer.Typer(help="The monitor: freshness, volume anomalies, schema drift, performance.")
console = Console()
STYLE = {"passed": "green", "warned": "bold red", "skipped": "dim"}


def _day(text: str | None) -> date:
    try:
        return parse_run_date(text) if text else datetime.now(UTC).date()
    except ValueError as exc:
        console.print(f"[red]✗[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


def print_report(report: MonitorReport, everything: bool) -> None:
    table = Table(title=f"Monitor for {report.run_date}: {report.counts()}", title_justify="left")
    for column in ("kind", "table / stage", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for c in report.checks:
        if everything or c.outcome != "passed":
            style = STYLE[c.outcome]
            table.add_row(c.kind, c.dataset, f"[{style}]{c.outcome}[/]", escape(c.detail or c.name))
    console.print(table)
    for problem in report.problems:
        console.print(f"[red]monitor problem:[/] {escape(problem)}", soft_wrap=True)


@monitor_app.callback(invoke_without_command=True)
def monitor(
    run_date: Annotated[
        str | None, typer.Option("--date", help="Run date YYYY-MM-DD (default: today).")
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="Also list the checks that passed.")] = False,
    record: Annotated[bool, typer.Option(help="Write the checks to the quality ledger.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Judge a run date's tables (freshness against the SLA, the day's volume) and its newest run's speed."""
    report = run_monitor(_day(run_date))
    if record:
        record_monitor(report)
    if as_json:
        checks = [{"kind": c.kind, "dataset": c.dataset} | c.ledger_row() for c in report.checks]
        typer.echo(
            json.dumps({"run_date": str(report.run_date), "checks": checks, "problems": report.problems})
        )
    else:
        print_report(report, everything)
    if report.findings() or report.problems:
        raise typer.Exit(1)
