"""`lakehouse sources list|check [NAME]`: show and validate the source registry (ingestion/sources/)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ingestion.registry import RegistryError, Source, load_source, source_files
from lakehouse.layout import raw_schema_name
from lakehouse.settings import get_settings

sources_app = typer.Typer(help="The source registry: list and check sources.", no_args_is_help=True)
console = Console()


def _where(source: Source) -> str:
    if source.kind == "http" and source.http:
        return source.http.base_url or f"${source.http.base_url_env}"
    if source.kind == "database" and source.database:
        return f"postgres ${source.database.dsn_env} schema {source.database.schema_name}"
    if source.demo:
        return f"demo delivery {source.demo.generator}"
    return source.files.location or "landing/<source>/<date>/"


@sources_app.command("list")
def list_sources() -> None:
    """Every registered source: kind, where its data comes from, entities and their raw tables."""
    table = Table(title=f"Sources in {get_settings().lakehouse_sources_dir}", title_justify="left")
    for column in ("source", "kind", "from", "entities (raw_<source>.<entity>)"):
        table.add_column(column)
    failed = False
    for path in source_files():
        try:
            source = load_source(path)
        except RegistryError as exc:
            table.add_row(path.stem, "[red]invalid[/]", str(exc).splitlines()[-1].strip(), "")
            failed = True
            continue
        entities = ", ".join(
            f"{e.name} ({e.format}{', snapshot' if e.is_snapshot else ''})" for e in source.entities.values()
        )
        table.add_row(source.name, source.kind, _where(source), f"{raw_schema_name(source.name)}: {entities}")
    console.print(table)
    if failed:
        console.print("[red]Some source files are invalid: run `lakehouse sources check` for details.[/]")
        raise typer.Exit(1)


@sources_app.command("check")
def check(name: Annotated[str | None, typer.Argument(help="Check only this source.")] = None) -> None:
    """Validate every source file (or one) and say exactly what is wrong; exit 1 if any is invalid."""
    paths = [p for p in source_files() if name is None or p.stem == name]
    if not paths:
        console.print(f"[red]✗[/] no source file {name}.yml in {get_settings().lakehouse_sources_dir}")
        raise typer.Exit(1)
    bad = 0
    for path in paths:
        try:
            source = load_source(path)
        except RegistryError as exc:
            bad += 1
            console.print(f"[red]✗[/] {exc}")
            continue
        columns = sum(len(e.columns) for e in source.entities.values())
        console.print(
            f"[green]✓[/] {path}: {source.kind} source {source.name}, {len(source.entities)} entities, "
            f"{columns} columns"
        )
    if bad:
        raise typer.Exit(1)
