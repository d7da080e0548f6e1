"""The `lakehouse` command: run the nightly pipeline and the project's other verbs."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.box import SIMPLE
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.dates import parse_run_date
from lakehouse.settings import (
    apply_runtime_defaults,
    exit_on_prefect_server_problem,
    exit_on_settings_problem,
    get_settings,
    prefect_server_problem,
)
from orchestration.summary import RunSummary

if TYPE_CHECKING:
    from orchestration.backfill import BackfillResult
    from orchestration.status import LakeStatus

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
        landed.add_row(escape(t.table), str(t.rows_landed), str(t.rows_quarantined), escape(t.note))
    console.print(landed)
    for note in summary.drift():
        console.print(f"[yellow]schema drift[/]: {escape(note)}")
    if summary.dbt:
        d = summary.dbt
        console.print(
            f"[bold]dbt[/]: {d.models_built} models built; tests {d.tests_passed} passed, "
            f"{d.tests_warned} warned, {d.tests_failed} failed; {d.unit_tests} unit tests"
        )
        if d.skipped_sources:
            skipped = escape(", ".join(d.skipped_sources))
            console.print(f"[yellow]dbt skipped[/] (no raw Delta table yet): {skipped}")
    for q in summary.quality:
        console.print(
            f"[bold]Soda {q.layer}[/]: {q.passed} passed, [yellow]{q.warned} warned[/], "
            f"[red]{q.failed} failed[/], {q.errored} errors"
        )
    for line in summary.publication():
        style = "red" if line.startswith("WITHHELD") else "green"
        console.print(f"[bold]marts[/]: [{style}]{escape(line)}[/]", soft_wrap=True)
    if summary.feature_rows is not None:
        console.print(f"[bold]features[/]: {summary.feature_rows} customer rows as of {summary.run_date}")
    console.print(f"[bold]lake[/]: {escape(summary.lake_root)}\n[bold]catalog[/]: {escape(summary.catalog)}")
    if summary.quality_report:
        console.print(f"[bold]quality report[/]: {escape(summary.quality_report)}", soft_wrap=True)
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
            console.print(f"[bold red]Run stopped at the {escape(summary.stopped_at)}.[/]")
        for problem in summary.problems:
            console.print(f"[red]✗[/] {escape(problem)}", soft_wrap=True)


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
        console.print(f"[red]✗[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also show Prefect's and dbt's logs on the terminal.")
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")]
ScaleOption = Annotated[float | None, typer.Option(help="Demo data scale (1 ≈ 5,000 order lines a day).")]
SourceOption = Annotated[
    list[str] | None, typer.Option("--source", help="Only this registered source (repeatable).")
]
WaitOption = Annotated[
    bool, typer.Option("--wait", help="If another run holds the lake, wait for it instead of exiting 2.")
]


@app.command()
def run(
    run_date: Annotated[
        str | None, typer.Option("--date", help="Logical date YYYY-MM-DD (default: today, UTC).")
    ] = None,
    scale: ScaleOption = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental marts.")] = False,
    generate: Annotated[bool, typer.Option(help="Run demo sources' delivery step first.")] = True,
    source: SourceOption = None,
    select: Annotated[str | None, typer.Option(help="dbt selector: build only these models/tests.")] = None,
    wait: WaitOption = False,
    verbose: VerboseOption = False,
    debug: DebugOption = False,
) -> None:
    """Run the nightly pipeline for one date: a line per stage, then what landed, was built and passed.

    Prefect's and dbt's logs go to a log file (its path is the last line) and to Prefect; --verbose shows
    them here too."""
    day = option_date(run_date)
    log_file = _prepare_run("run", source or [], verbose)
    from lakehouse.lease import LeaseHeld, run_lease

    try:  # the lease is taken before Prefect starts, so a busy lake is reported at once
        with run_lease(f"lakehouse run --date {day or 'today'}", wait=wait):
            _run_nightly(day, scale, full_refresh, generate, source or None, select, log_file, debug)
    except LeaseHeld as busy:
        console.print(f"[red]✗[/] {escape(str(busy))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _prepare_run(command: str, sources: list[str], verbose: bool) -> Path:
    """Before Prefect starts: settings checked (invalid: one line, exit 2), sources checked, logs sent to a
    new log file (and the terminal with --verbose), the local `make ui` server used when up."""
    get_settings()  # invalid settings: one line and exit 2 (main), before Prefect starts and logs a traceback
    apply_runtime_defaults()
    _check_sources(sources)
    from orchestration.terminal import new_log_file, send_logs_to

    log_file = new_log_file(command)
    send_logs_to(log_file, verbose)
    if url := use_running_local_server():
        console.print(f"Prefect: the local server of `make ui` at {url} (its UI shows this run)")
    return log_file


def unexpected_error(exc: Exception, log_file: Path, debug: bool) -> NoReturn:
    """An error the pipeline did not turn into a summary: one line, where the log is, exit 1 (--debug:
    the traceback). Prefect's server failing to start is left to `main`, which says what to do in one line."""
    if debug or prefect_server_problem(exc) is not None:
        raise exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    console.print(f"[red]✗[/] {escape(type(exc).__name__)}: {escape(text)}", soft_wrap=True)
    console.print(f"  the log has the details: {escape(str(log_file))} (--debug shows the traceback)")
    raise typer.Exit(1)


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
    log_file: Path,
    debug: bool,
) -> None:
    from orchestration.flows.nightly import PipelineFailed, lakehouse_nightly
    from orchestration.terminal import stage_progress

    try:
        with stage_progress(console, lines=True):
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
        print_log_file(log_file)
        raise typer.Exit(1) from None
    except Exception as exc:
        unexpected_error(exc, log_file, debug)
    print_summary(summary)
    print_log_file(log_file)


def print_log_file(log_file: Path) -> None:
    """The last line of `run` and `backfill`: where Prefect's and dbt's logs of this command are."""
    console.print(f"log: {escape(str(log_file))}", soft_wrap=True, highlight=False)


@app.command()
def backfill(
    from_date: Annotated[str, typer.Option("--from", help="First date YYYY-MM-DD.")],
    to_date: Annotated[str, typer.Option("--to", help="Last date YYYY-MM-DD (included).")],
    scale: ScaleOption = None,
    source: SourceOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rerun the dates already complete too.")] = False,
    wait: WaitOption = False,
    verbose: VerboseOption = False,
    debug: DebugOption = False,
) -> None:
    """Run the nightly pipeline for each date from --from to --to, in order, once each.

    A line per date. Dates already complete in the lake are skipped, so rerunning a killed or failed
    backfill resumes it. Exits 1 naming the dates that failed."""
    first, last = option_date(from_date), option_date(to_date)
    assert first is not None and last is not None
    from orchestration.backfill import date_range

    try:
        date_range(first, last)
    except ValueError as exc:
        usage_error(str(exc))
    log_file = _prepare_run("backfill", source or [], verbose)
    from lakehouse.lease import LeaseHeld, run_lease

    try:
        with run_lease(f"lakehouse backfill --from {first} --to {last}", wait=wait):
            result = _run_backfill(first, last, scale, source or None, force)
    except LeaseHeld as busy:
        console.print(f"[red]✗[/] {escape(str(busy))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        unexpected_error(exc, log_file, debug)
    _backfill_outcome(result, first, last, log_file)


def _run_backfill(
    first: date, last: date, scale: float | None, sources: list[str] | None, force: bool
) -> BackfillResult:
    from orchestration.backfill import DateOutcome, plan_backfill, run_backfill
    from orchestration.flows.nightly import lakehouse_nightly
    from orchestration.terminal import stage_progress

    plan = plan_backfill(first, last, force)
    console.print(
        f"Backfill {first} to {last}: {len(plan.to_run)} dates to run, {len(plan.complete)} already complete"
    )
    styles = {"succeeded": "green", "failed": "red", "skipped": "dim"}

    def report(outcome: DateOutcome) -> None:
        console.print(f"[{styles[outcome.outcome]}]{escape(outcome.line())}[/]", soft_wrap=True)

    with stage_progress(console, lines=False):
        return run_backfill(
            plan, lambda day: lakehouse_nightly(run_date=day, scale=scale, sources=sources), report
        )


def _backfill_outcome(result: BackfillResult, first: date, last: date, log_file: Path) -> None:
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts().items())
    if result.ok:
        console.print(f"[bold green]Backfill {first} to {last} succeeded[/]: {counts}.")
        print_log_file(log_file)
        return
    failed = ", ".join(d.isoformat() for d in result.failed)
    console.print(
        f"[bold red]Backfill {first} to {last} failed for {len(result.failed)} date(s): {failed}[/]"
    )
    console.print(f"  {counts}.")
    console.print(
        "  Fix what each line says (`lakehouse status`, `lakehouse quality inspect`), then run the same "
        "backfill again: complete dates are skipped, the failed ones rerun."
    )
    print_log_file(log_file)
    raise typer.Exit(1)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON (for scripts).")] = False,
    runs: Annotated[int, typer.Option("--runs", min=1, help="How many of the last runs to list.")] = 10,
    debug: DebugOption = False,
) -> None:
    """Show the last runs and the health of every table; exit 1 when anything is red.

    Per table: Delta version, rows, last commit, age against the freshness SLA, failed checks and withheld
    publications of the last run's date. Red: a failed last run, a stale table, a failed check."""
    settings = get_settings()
    from orchestration.status import lake_status

    try:
        state = lake_status(settings, last_runs=runs)
    except Exception as exc:  # e.g. an unreadable table: one line, not a traceback
        if debug:
            raise
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        console.print(f"[red]✗[/] the status could not be read: {escape(type(exc).__name__)}: {escape(text)}")
        raise typer.Exit(1) from None
    if as_json:
        import json

        typer.echo(json.dumps(state.to_dict(), indent=2))
    else:
        print_status(state)
    if state.red:
        raise typer.Exit(1)


def print_status(state: LakeStatus) -> None:
    console.print(f"[bold]lake[/]: {escape(state.lake)}", soft_wrap=True)
    runs = Table(title="Last runs", title_justify="left", box=SIMPLE)
    for col in ("date", "outcome", "seconds", "started (UTC)", "stopped at"):
        runs.add_column(col, justify="right" if col == "seconds" else "left")
    for r in state.runs:
        outcome = "[green]succeeded[/]" if r.ok else "[red]failed[/]"
        started = r.started_at.strftime("%m-%d %H:%M") if r.started_at else ""
        seconds = f"{r.seconds:.1f}" if r.seconds is not None else ""
        runs.add_row(str(r.run_date), outcome, seconds, started, escape(r.stopped_at or ""))
    console.print(runs)
    tables = Table(
        title="Tables (age: since the last commit; red past its SLA)", title_justify="left", box=SIMPLE
    )
    tables.add_column("table", no_wrap=True)
    for col in ("version", "rows", "last commit", "age", "failures", "withheld"):
        tables.add_column(col, justify="left" if col == "last commit" else "right")
    for t in state.tables:
        age = f"{t.age.total_seconds() / 3600:.1f} h" if t.age is not None else "-"
        tables.add_row(
            escape(t.dataset),
            "-" if t.version is None else str(t.version),
            "-" if t.rows is None else f"{t.rows:,}",
            t.last_commit.strftime("%m-%dT%H:%M") if t.last_commit else "-",
            f"[green]{age}[/]" if t.fresh else f"[red]{age}[/]",
            f"[red]{len(t.open_failures)}[/]" if t.open_failures else "0",
            "[red]yes[/]" if t.withheld else "",
        )
    console.print(tables)
    problems = state.problems()
    for problem in problems:
        console.print(f"[red]✗[/] {escape(problem)}", soft_wrap=True)
    console.print("[bold red]Status: red[/]" if problems else "[bold green]Status: green[/]")


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
        console.print(f"[red]✗[/] {escape(str(busy))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]✗[/] {escape(str(exc))}", soft_wrap=True)
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
