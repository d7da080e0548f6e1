"""Demo history for training, quickly: land many dates of the demo shop through the loader alone (no Prefect,
no gates), build the marts once with dbt, then compute the features for many `as_of` dates.

This is the fast path tests and `make` targets use to give a model enough history (bench/harness.py's
`land_history` does the same for the bench); `lakehouse backfill` is the operator's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from ingestion.loader import ingest_date
from ingestion.shop.generator import generate_landing
from lakehouse.settings import Settings, get_settings
from lakehouse.transform import run_dbt_build
from ml.features import build_customer_features


@dataclass(frozen=True)
class History:
    first: date
    last: date
    rows_landed: int
    feature_dates: tuple[date, ...]


def date_range(first: date, last: date, step: int = 1) -> list[date]:
    """Every `step`-th date from `first` to `last`, both included when the step lands on it."""
    return [first + timedelta(days=i) for i in range(0, (last - first).days + 1, step)]


def land_dates(days: Sequence[date], scale: float, settings: Settings | None = None) -> int:
    """Generate and load each date's demo shop files (loader only); returns the raw rows landed."""
    settings = settings or get_settings()
    rows = 0
    for day in days:
        generate_landing(day, scale=scale, seed=settings.lakehouse_seed, settings=settings)
        rows += ingest_date(day, settings=settings).rows_landed
    return rows


def build_history(
    last: date,
    days: int,
    scale: float,
    feature_step: int = 7,
    feature_dates: Sequence[date] | None = None,
    settings: Settings | None = None,
) -> History:
    """`days` dates of demo shop history ending at `last`, the marts built once as of `last`, and the
    features for every `feature_step`-th date (or `feature_dates`) from the history's first week on."""
    settings = settings or get_settings()
    first = last - timedelta(days=days - 1)
    rows = land_dates(date_range(first, last), scale, settings)
    run_dbt_build(last)
    as_of = list(feature_dates or date_range(first + timedelta(days=7), last, feature_step))
    for day in as_of:
        build_customer_features(day, settings)
    return History(first, last, rows, tuple(as_of))
