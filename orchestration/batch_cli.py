"""`lakehouse batch retract --source S --date D`: take a committed bad batch back out of the raw tables.

Wiring only: ingestion.batches.retract_batch removes the batch (a Delta delete carrying the reason) and
reopens it for a corrected redelivery; quality.ledger.write_retraction records it in the quality ledger.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ingestion.batches import RetractReport, retract_batch
from ingestion.registry import RegistryError, Source, get_source
from ingestion.snapshots import SnapshotOrderError
from lakehouse.dates import parse_run_date
from lakehouse.lease import LeaseHeld, run_lease
from lakehouse.settings import get_settings
from quality.ledger import write_retraction

batch_app = typer.Typer(help="Landing batches: retract a committed bad batch.", no_args_is_help=True)
console = Console()


def _usage_error(message: str) -> typer.Exit:
    console.print(f"[red]✗[/] {message}")
    return typer.Exit(2)


def _source(name: str, entities: list[str]) -> Source:
    """The registered source, with every named entity in it (else exit 2)."""
    try:
        source = get_source(name)
    except RegistryError as exc:
        raise _usage_error(str(exc)) from None
    unknown = [e for e in entities if e not in source.entities]
    if unknown:
        known = ", ".join(source.entities)
        raise _usage_error(f"source {name} has no entity {', '.join(unknown)} (it has {known})")
    return source


def print_retraction(report: RetractReport) -> None:
    table = Table(title=f"Retracted {report.source} batches of {report.run_date}", title_justify="left")
    for column in ("entity", "rows removed", "quarantined removed", "redelivery lands as"):
        removed = "removed" in column
        table.add_column(column, justify="right" if removed else "left", no_wrap=not removed)
    for r in report.retracted:
        table.add_row(r.entity, str(r.rows), str(r.quarantined), r.next_app_id)
    console.print(table)
    if report.not_committed:
        console.print(
            f"no committed batch of {report.run_date} (left as they are): {', '.join(report.not_committed)}"
        )
    for entity, why in report.kept.items():
        console.print(f"kept {entity}: {why}", soft_wrap=True)


@batch_app.command("retract")
def retract(
    source: Annotated[str, typer.Option("--source", help="The registered source of the batch.")],
    run_date: Annotated[str, typer.Option("--date", help="The batch's logical date YYYY-MM-DD.")],
    entity: Annotated[
        list[str] | None, typer.Option("--entity", help="Only this entity (repeatable; default: all).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, recorded in the Delta commit and the ledger.")] = (
        "retracted by an operator"
    ),
) -> None:
    """Remove the committed batch of a date from the raw tables and reopen it, so that the next run of
    that date lands a corrected redelivery (exactly once)."""
    try:
        day = parse_run_date(run_date)
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    found = _source(source, entity or [])
    try:  # not while a run works on the lake
        with run_lease(f"lakehouse batch retract --source {source} --date {day}"):
            entities, whole_date = entity or list(found.entities), not entity
            report = retract_batch(found.name, entities, day, reason, get_settings(), whole_date)
    except LeaseHeld as busy:
        console.print(f"[red]✗[/] {busy}", soft_wrap=True)
        raise typer.Exit(2) from None
    except SnapshotOrderError as refused:  # nothing was retracted
        console.print(f"[red]✗[/] {refused}", soft_wrap=True)
        raise typer.Exit(1) from None
    if not report.retracted and report.kept:
        print_retraction(report)
        raise typer.Exit(1)
    if not report.retracted:
        console.print(
            f"[red]✗[/] nothing to retract: no committed batch of {day} in the raw tables of {source} "
            f"({', '.join(report.not_committed)}). Check the date, or run `lakehouse run --date {day}` "
            "if a retracted batch is waiting for its redelivery."
        )
        raise typer.Exit(1)
    write_retraction(report)
    print_retraction(report)
    console.print(
        f"Deliver the corrected data for {day} (a files source: into its landing folder), then run "
        f"`lakehouse run --date {day} --source {source}`. That run rebuilds the marts in full "
        "(--full-refresh), so no retracted row stays in them."
    )
