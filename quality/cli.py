"""`lakehouse quality scan`: verify the Soda contracts for a run date and print the results."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.dates import parse_run_date
from quality.report import ScanReport

quality_app = typer.Typer(help="Soda contracts and the quality ledger: verify, report.", no_args_is_help=True)

OUTCOME_STYLE = {"passed": "green", "warned": "yellow", "failed": "red", "error": "bold red"}


class LayerOption(StrEnum):
    raw = "raw"
    marts = "marts"
    all = "all"


def results_table(report: ScanReport) -> Table:
    table = Table(title=f"Soda contracts for {report.run_date} ({report.layer})", title_justify="left")
    for column in ("contract", "check", "column", "outcome", "level", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for r in report.results:
        style = OUTCOME_STYLE[r.outcome]
        value = f"{r.value:g}" if r.value is not None else ""
        table.add_row(r.contract, r.name, r.column or "", f"[{style}]{r.outcome}[/]", r.level, value)
    return table


@quality_app.command()
def scan(
    run_date: Annotated[
        str | None, typer.Option("--date", help="Logical run date YYYY-MM-DD (default: today, UTC).")
    ] = None,
    layer: Annotated[LayerOption, typer.Option(help="Which contracts to verify.")] = LayerOption.all,
    ledger: Annotated[
        bool, typer.Option("--ledger/--no-ledger", help="Also record the results in the quality ledger.")
    ] = False,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Verify only these sources' raw contracts (repeatable; default all)."),
    ] = None,
) -> None:
    """Verify the contracts; exit 1 with a message per blocking failure."""
    try:
        day = parse_run_date(run_date) if run_date is not None else datetime.now(UTC).date()
    except ValueError as exc:  # a usage error: one line, exit 2
        typer.echo(f"✗ {exc}", err=True)
        raise typer.Exit(2) from None
    from lakehouse.settings import apply_runtime_defaults

    apply_runtime_defaults()  # telemetry off before Soda is imported
    from quality.scan import verify_contracts, write_ledger

    report = verify_contracts(day, layer.value, sources=source or None)
    console = Console()
    console.print(results_table(report))
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/] {skipped}", soft_wrap=True)
    n = report.outcome_counts()
    console.print(
        f"{n['passed']} passed, [yellow]{n['warned']} warned[/], [red]{n['failed']} failed[/], "
        f"{n['error']} errors"
    )
    if ledger:
        console.print(f"Ledger: {write_ledger(report, day)}")
    if report.blocking_failures:
        for message in report.failure_messages():
            console.print(f"[red]✗[/] {message}", soft_wrap=True)
        raise typer.Exit(1)
    console.print("[bold green]No blocking failures.[/]")


@quality_app.command()
def inspect(
    run: Annotated[
        str | None, typer.Option("--run", help="A write-audit-publish run id (default: the newest withheld).")
    ] = None,
) -> None:
    """Show the withheld candidates of a run: the failing checks, sample rows, and where to query them."""
    from lakehouse.wap import latest_withheld, read_decision, run_candidates

    console = Console()
    decision = read_decision(run) if run else latest_withheld()
    if decision is None:
        console.print("No withheld run is kept: every run published, or a later success cleaned up.")
        raise typer.Exit(1 if run else 0)
    console.print(
        f"[bold]Run {decision.run_id}[/] for {decision.run_date}: [red]{decision.decision}[/] "
        f"at {decision.decided_at}"
    )
    for failure in decision.failures:
        console.print(f"[red]✗[/] {failure}", soft_wrap=True)
    for check, rows in decision.samples.items():
        table = Table(title=f"sample rows failing {check}", title_justify="left")
        columns = list(rows[0]) if rows else []
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(row.get(c)) for c in columns))
        console.print(table)
    for candidate in run_candidates(decision.run_id):
        size = f"{candidate.rows} rows"
        if candidate.mode == "merge":  # the changed rows; the catalog view shows the table with them merged
            size = f"{candidate.rows} changed rows (to merge into version {candidate.base_version})"
        console.print(
            f"candidate {candidate.model}: {size} at {candidate.uri} — in the catalog: "
            f"select * from {candidate.schema}_candidate.{candidate.model}",
            soft_wrap=True,
        )


@quality_app.command()
def report(
    run_date: Annotated[
        str | None,
        typer.Option(
            "--date", help="Last day of the report YYYY-MM-DD (default: the ledger's latest run date)."
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="How many days up to --date it charts.")] = 30,
    out: Annotated[
        str | None,
        typer.Option("--out", help="Write the HTML here (default: the lake's quality/reports/<date>.html)."),
    ] = None,
) -> None:
    """Write the static HTML quality report (charts of the ledger; opens from disk, no network)."""
    from quality.html_report import latest_run_date, write_report

    console = Console()
    try:
        day = parse_run_date(run_date) if run_date is not None else latest_run_date()
    except ValueError as exc:
        console.print(f"[red]✗[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        written = write_report(day or datetime.now(UTC).date(), days, out=out)
    except FileNotFoundError as exc:
        console.print(f"[red]✗[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    n = written.latest
    console.print(
        f"Quality report for {written.run_date} ({days} days): {n.get('passed', 0)} passed, "
        f"{n.get('warned', 0)} warned, {n.get('failed', 0)} failed, {n.get('error', 0)} errors on the day; "
        f"{written.withheld} withheld publications"
    )
    console.print(f"Report: {written.uri}", soft_wrap=True)
