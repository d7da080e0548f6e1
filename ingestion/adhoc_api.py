"""Land any JSON API as a raw Delta table without writing a source file first (examples/basic_etl_pipeline).

The API is pulled like a registered http source (every page, `Link: rel=next` or a `next` URL in the body,
records in the body or under data/items/results) into landing/, its columns are inferred from the landed
pages by DuckDB, and the generic loader lands them: exactly once per date, bad records quarantined.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from ingestion.http_source import fetch_http
from ingestion.loader import ingest_source
from ingestion.registry import Source
from ingestion.report import IngestReport
from lakehouse.lake import duckdb_session
from lakehouse.layout import landing_dir
from lakehouse.settings import Settings, get_settings

ADHOC_SOURCE = "api"
DUCKDB_TO_TYPE = {
    "BIGINT": "bigint",
    "INTEGER": "bigint",
    "UBIGINT": "bigint",
    "DOUBLE": "double",
    "FLOAT": "double",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "VARCHAR": "string",
}


def adhoc_source(api_url: str, name: str, columns: dict[str, str] | None = None) -> Source:
    """A one-entity http source for `api_url` (columns default to a placeholder until inferred)."""
    parts = urlsplit(api_url)
    cols = columns or {"id": "string"}
    key = next((c for c in ("id", f"{name}_id") if c in cols), next(iter(cols)))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Source.model_validate(
        {
            "name": ADHOC_SOURCE,
            "kind": "http",
            "http": {"base_url": f"{parts.scheme}://{parts.netloc}"},
            "entities": {
                name: {"path": path, "pagination": {"type": "auto"}, "primary_key": [key], "columns": cols}
            },
        }
    )


def infer_columns(pages_glob: str, settings: Settings) -> dict[str, str]:
    """Column types of the landed pages, as DuckDB reads them (nested values as json)."""
    with duckdb_session(settings=settings) as con:
        rows = con.execute(f"DESCRIBE SELECT * FROM read_json('{pages_glob}', format = 'array')").fetchall()
    return {str(r[0]): DUCKDB_TO_TYPE.get(str(r[1]), "json") for r in rows}


def land_api(api_url: str, name: str, run_date: date, settings: Settings | None = None) -> IngestReport:
    """Pull every page of `api_url` into landing/api/<date>/<name>/ and land raw/api/<name>."""
    settings = settings or get_settings()
    placeholder = adhoc_source(api_url, name)
    fetch_http(placeholder, run_date, settings)
    pages = f"{landing_dir(ADHOC_SOURCE, run_date, settings)}/{name}/page-*.json"
    source = adhoc_source(api_url, name, infer_columns(pages, settings))
    return ingest_source(source, run_date, settings)
