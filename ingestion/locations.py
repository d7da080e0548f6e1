"""Where a source's files for a date are: the landing folder, or the source's own location template.

- files sources: `files.location` (a local folder or s3:// prefix with {date} or {date:%Y/%m/%d}), default
  <lake>/landing/<source>/<date>/, plus the entity's `file` (a name or glob, default <entity>.<format>);
- http sources: the pages the fetch step wrote, landing/<source>/<date>/<entity>/page-*.json;
- database sources: the extract the fetch step wrote, landing/<source>/<date>/<entity>.parquet.
"""

from __future__ import annotations

import re
from datetime import date

import duckdb

from ingestion.registry import Entity, Source
from lakehouse.layout import landing_dir
from lakehouse.settings import Settings

_DATE_FIELD = re.compile(r"\{date(?::([^}]*))?\}")


def render_location(template: str, run_date: date) -> str:
    """`template` with {date} (ISO) or {date:<strftime>} replaced by the run date."""
    return _DATE_FIELD.sub(
        lambda m: run_date.strftime(m.group(1)) if m.group(1) else run_date.isoformat(), template
    )


def entity_pattern(source: Source, entity: Entity) -> str:
    if source.kind == "http":
        return f"{entity.name}/page-*.json"
    if source.kind == "database":
        return f"{entity.name}.parquet"
    return entity.file_pattern


def date_folder(source: Source, run_date: date, settings: Settings) -> str:
    if source.kind == "files" and source.files.location:
        return render_location(source.files.location, run_date).rstrip("/")
    return landing_dir(source.name, run_date, settings)


def landing_files(
    con: duckdb.DuckDBPyConnection, source: Source, entity: Entity, run_date: date, settings: Settings
) -> tuple[list[str], str]:
    """The files of (entity, run_date) in a stable order, and the pattern they were looked for at."""
    pattern = f"{date_folder(source, run_date, settings)}/{entity_pattern(source, entity)}"
    rows = con.execute("SELECT file FROM glob(?) ORDER BY file", [pattern]).fetchall()
    return [str(r[0]) for r in rows], pattern
