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

quality_app = typer.Typer(help="Soda contracts: verify raw tables and marts.", no_args_is_help=True)

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
