"""The `lakehouse` command: run the nightly pipeline and the project's other verbs."""

from __future__ import annotations

import os
import sys
from datetime import date
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.dates import parse_run_date
from lakehouse.settings import (
    apply_runtime_defaults,
    exit_on_prefect_server_problem,
    exit_on_settings_problem,
    get_settings,
)
from orchestration.summary import RunSummary

app = typer.Typer(help="dbt + Prefect lakehouse: Delta tables on a local folder or S3.", no_args_is_help=True)
console = Console()


def _mount_subcommands() -> None:
    from orchestration.batch_cli import batch_app
    from orchestration.monitor_cli import monitor_app
    from orchestration.sources_cli import sources_app
    from quality.cli import quality_app

    app.add_typer(quality_app, name="quality", help="Soda contracts and the quality ledger: scan, report.")
    app.add_typer(sources_app, name="sources", help="The source registry: list and check sources.")
    app.add_typer(batch_app, name="batch", help="Landing batches: retract a committed bad batch.")
    app.add_typer(monitor_app, name="monitor", help="The monitor: freshness, volume, drift, performance.")


def print_summary(summary: RunSummary) -> None:
    landed = Table(title=f"Landed for {summary.run_date} (raw Delta tables)", title_justify="left")
    for col in ("table", "rows landed", "quarantined", "note"):
        landed.add_column(col, justify="right" if col[0] in "rq" else "left")
    for t in summary.landed:
        landed.add_row(t.table, str(t.rows_landed), str(t.rows_quarantined), t.note)
    console.print(landed)
    for note in summary.drift():
        console.print(f"[yellow]schema drift[/]: {note}")
    if summary.dbt:
        d = summary.dbt
        console.print(
            f"[bold]dbt[/]: {d.models_built} models built; tests {d.tests_passed} passed, "
            f"{d.tests_warned} warned, {d.tests_failed} failed; {d.unit_tests} unit tests"
        )
        if d.skipped_sources:
            console.print(f"[yellow]dbt skipped[/] (no raw Delta table yet): {', '.join(d.skipped_sources)}")
    for q in summary.quality:
        console.print(
            f"[bold]Soda {q.layer}[/]: {q.passed} passed, [yellow]{q.warned} warned[/], "
            f"[red]{q.failed} failed[/], {q.errored} errors"
        )
    for line in summary.publication():
        style = "red" if line.startswith("WITHHELD") else "green"
        console.print(f"[bold]marts[/]: [{style}]{line}[/]", soft_wrap=True)
    if summary.feature_rows is not None:
        console.print(f"[bold]features[/]: {summary.feature_rows} customer rows as of {summary.run_date}")
    console.print(f"[bold]lake[/]: {summary.lake_root}\n[bold]catalog[/]: {summary.catalog}")
    if summary.quality_report:
        console.print(f"[bold]quality report[/]: {summary.quality_report}", soft_wrap=True)
    for line in summary.alerts:  # where the run's alert went (receivers masked)
        style = "red" if " NOT sent " in line else "default"
        console.print(f"[bold]alert[/]: [{style}]{escape(line.removeprefix('alert '))}[/]", soft_wrap=True)
    query = "from fct_daily_revenue order by order_date desc limit 5"
    console.print("Query a mart:", style="bold")
    console.print(
        f"  .venv/bin/python -c \"import duckdb; con = duckdb.connect('{summary.catalog}', read_only=True); "
        f"print(con.sql('{query}'))\"",
        style="cyan",
        soft_wrap=True,
    )
    if summary.ok:
        console.print("[bold green]Run succeeded.[/]")
    else:
        if summary.stopped_at:
            console.print(f"[bold red]Run stopped at the {summary.stopped_at}.[/]")
        for problem in summary.problems:
            console.print(f"[red]✗[/] {problem}")


def usage_error(message: str) -> NoReturn:
    """One line on stderr and exit code 2: the command was given something it cannot use."""
    typer.echo(f"✗ {message}", err=True)
    raise typer.Exit(2)


def option_date(run_date: str | None) -> date | None:
    """The --date given (None when it was left out); a malformed or empty one is a usage error."""
    try:
        return None if run_date is None else parse_run_date(run_date)
    except ValueError as exc:
        usage_error(str(exc))


def _check_sources(names: list[str]) -> None:
    """Exit 2 (a usage error) when the registry is invalid or names an unknown source."""
    from ingestion.registry import RegistryError, get_source, load_registry

    try:
        load_registry()
        for name in names:
            get_source(name)
    except RegistryError as exc:
        console.print(f"[red]✗[/] {exc}")
        raise typer.Exit(2) from None


@app.command()
def run(
    run_date: Annotated[
        str | None, typer.Option("--date", help="Logical date YYYY-MM-DD (default: today, UTC).")
    ] = None,
    scale: Annotated[
        float | None, typer.Option(help="Demo data scale (1 ≈ 5,000 order lines a day).")
    ] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental marts.")] = False,
    generate: Annotated[bool, typer.Option(help="Run demo sources' delivery step first.")] = True,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this registered source (repeatable).")
    ] = None,
    select: Annotated[str | None, typer.Option(help="dbt selector: build only these models/tests.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="If another run holds the lake, wait for it instead of exiting 2.")
    ] = False,
) -> None:
    """Run the nightly pipeline for one date and print what landed, was built and passed."""
    day = option_date(run_date)
    get_settings()  # invalid settings: one line and exit 2 (main), before Prefect starts and logs a traceback
    apply_runtime_defaults()
    from lakehouse.lease import LeaseHeld, run_lease

    _check_sources(source or [])
    if url := use_running_local_server():
        console.print(f"Prefect: the local server of `make ui` at {url} (its UI shows this run)")
    try:  # the lease is taken before Prefect starts, so a busy lake is reported at once
        with run_lease(f"lakehouse run --date {day or 'today'}", wait=wait):
            _run_nightly(day, scale, full_refresh, generate, source or None, select)
    except LeaseHeld as busy:
        console.print(f"[red]✗[/] {busy}", soft_wrap=True)
        raise typer.Exit(2) from None


def use_running_local_server() -> str | None:
    """Point Prefect at this checkout's `make ui` server when it is up and PREFECT_API_URL is not set: the run
    then starts nothing (Prefect's temporary server costs 20 s to minutes on a busy machine) and shows in that
    UI. Returns the URL used; None when Prefect keeps its own choice (PREFECT_API_URL or the temporary
    server)."""
    from orchestration.local import running_api_url

    if os.environ.get("PREFECT_API_URL") or (url := running_api_url()) is None:
        return None
    os.environ["PREFECT_API_URL"] = url
    if "prefect.context" in sys.modules:  # Prefect reads its settings on import: make it read them again
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
    return url


def _run_nightly(
    day: date | None,
    scale: float | None,
    full_refresh: bool,
    generate: bool,
    sources: list[str] | None,
    select: str | None,
) -> None:
    from orchestration.flows.nightly import PipelineFailed, lakehouse_nightly

    try:
        summary = lakehouse_nightly(
            run_date=day,
            scale=scale,
            full_refresh=full_refresh,
            generate=generate,
            sources=sources,
            select=select,
        )
    except PipelineFailed as failed:
        print_summary(failed.summary)
        raise typer.Exit(1) from None
    print_summary(summary)


@app.command()
def restore(
    model: Annotated[str, typer.Argument(help="The mart to restore, e.g. fct_orders.")],
    version: Annotated[int, typer.Option("--version", help="The Delta version to make current again.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")] = "",
) -> None:
    """Make an earlier published version of a mart current again (a new Delta commit; the catalog view
    follows), recorded in the quality ledger."""
    from lakehouse.layout import analytics_table
    from lakehouse.lease import LeaseHeld, run_lease
    from lakehouse.wap import restore_table

    location = analytics_table(model)
    try:
        with run_lease(f"lakehouse restore {model} --version {version}"):
            new_version = restore_table(location, version, "main", model)
    except LeaseHeld as busy:
        console.print(f"[red]✗[/] {busy}", soft_wrap=True)
        raise typer.Exit(2) from None
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]✗[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    _record_restore(model, version, new_version, reason)
    console.print(f"[green]✓[/] {model}: version {version} restored as version {new_version} ({location})")


def _record_restore(model: str, version: int, new_version: int, reason: str) -> None:
    from datetime import UTC, datetime

    from quality.ledger import write_publish_decision

    detail = f"restored version {version} as version {new_version}" + (f": {reason}" if reason else "")
    write_publish_decision(
        datetime.now(UTC).date(), model, "restored", new_version, detail, run_id=f"restore-{new_version}"
    )


@app.command()
def info() -> None:
    """Show where the lake and the catalog are."""
    settings = get_settings()
    console.print(f"lake root: {settings.root}")
    console.print(f"catalog:   {settings.catalog_path}")
    console.print(f"target:    {settings.lakehouse_target}")


def main() -> None:
    """Console-script entry point: telemetry off before any tool is imported, then the commands."""
    apply_runtime_defaults()
    _mount_subcommands()
    # invalid settings or a server that cannot start: one line saying what to do, no traceback
    with exit_on_settings_problem(), exit_on_prefect_server_problem():
        app()
