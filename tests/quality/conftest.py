"""Fixtures of the quality tests: a tiny shop lake builder (see shop_lake.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from shop_lake import RUN_DATE, build_shop_lake

from lakehouse.settings import Settings


@pytest.fixture
def build_lake(lake_settings: Settings) -> Callable[..., Settings]:
    """build_lake(run_date=RUN_DATE, **defects) -> the settings of the lake it built under tmp_path."""

    def build(run_date: date = RUN_DATE, **defects: int) -> Settings:
        return build_shop_lake(lake_settings, run_date, **defects)

    return build
