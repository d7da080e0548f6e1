"""Land one registered source for a date: its delivery step (demo generator, API fetch, database extract)
writes landing/, then the generic loader lands raw Delta tables. Plain functions; the flows wire them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from ingestion.batches import batch_committed, batch_id
from ingestion.loader import ingest_source
from ingestion.registry import Source
from ingestion.report import IngestReport
from lakehouse.layout import quarantine_records, raw_table
from lakehouse.settings import Settings, get_settings


def demo_generator(source: Source) -> Callable[..., list[str]]:
    """The demo delivery function named by `demo.generator` ("module:function")."""
    assert source.demo is not None
    module, _, name = source.demo.generator.partition(":")
    function: Callable[..., list[str]] = getattr(importlib.import_module(module), name)
    return function


def deliver_demo(source: Source, run_date: date, scale: float, seed: int, settings: Settings) -> list[str]:
    """Write the demo source's landing files of `run_date` (overwriting them)."""
    return demo_generator(source)(run_date, scale=scale, seed=seed, settings=settings)


def deliver(
    source: Source, run_date: date, settings: Settings, generate: bool = True, scale: float | None = None
) -> None:
    """The delivery step into landing/: the demo generator (if `generate`), or the API/database pull."""
    if source.demo is not None and generate:
        deliver_demo(source, run_date, scale or settings.lakehouse_scale, settings.lakehouse_seed, settings)
    if source.kind in ("http", "database"):
        fetch(source, run_date, settings)


def open_entities(source: Source, run_date: date, settings: Settings) -> list[str]:
    """The entities whose batch of `run_date` is not committed yet, or was retracted (a pull is needed
    only for those)."""
    return [
        name
        for name in source.entities
        if not batch_committed(
            raw_table(source.name, name, settings), batch_id(source.name, name, run_date), settings
        )
    ]


def fetch(source: Source, run_date: date, settings: Settings) -> Any:
    """Pull an API or database source into landing/ (only entities whose batch is still open)."""
    entities = open_entities(source, run_date, settings)
    if not entities:
        return None
    if source.kind == "http":
        from ingestion.http_source import fetch_http

        return fetch_http(source, run_date, settings, entities=entities)
    from ingestion.database_source import fetch_database

    return fetch_database(source, run_date, settings, entities=entities)


def land_source(
    source: Source,
    run_date: date,
    settings: Settings | None = None,
    generate: bool = True,
    scale: float | None = None,
    landed_since: datetime | None = None,
) -> IngestReport:
    """Deliver or fetch `source`'s data of `run_date` into landing/, then land it as raw Delta tables.

    A fetch failure is reported (with what to do), not raised: what already landed is kept. `landed_since`
    (when the run started) makes a retry report the batches its earlier attempt committed as landed.
    """
    settings = settings or get_settings()
    try:
        deliver(source, run_date, settings, generate, scale)
    except Exception as exc:  # the fetch modules' errors name source, entity and fix, without secrets
        if source.kind not in ("http", "database"):
            raise
        return IngestReport.failed(
            source.name, run_date, quarantine_records(source.name, settings), f"fetch failed: {exc}"
        )
    return ingest_source(source, run_date, settings, landed_since=landed_since)
