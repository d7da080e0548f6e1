"""A small lake with demo history, built once per session (loader-only landing, one dbt build, features every
3 days: ml/history.py), copied into each test's tmp_path so tests can train, register and score freely."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from lakehouse.settings import Settings

HISTORY_END = date(2026, 11, 30)
HISTORY_DAYS = 75  # 13 dates with a passed 30-day label window
HISTORY_SCALE = 0.2  # 1,000 customers, about 400 orders a day
FEATURE_STEP = 3


def _lake_env(root: Path) -> dict[str, str]:
    catalog = root / "catalog" / "lakehouse.duckdb"
    return {"LAKEHOUSE_ROOT": str(root / "lake"), "LAKEHOUSE_CATALOG": str(catalog)}


@pytest.fixture(scope="session")
def history_template(tmp_path_factory: pytest.TempPathFactory, shop_registry: Path) -> Path:
    from lakehouse.settings import apply_runtime_defaults
    from ml.history import build_history

    root = tmp_path_factory.mktemp("ml-history")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**_lake_env(root), "LAKEHOUSE_SOURCES_DIR": str(shop_registry)}.items():
            mp.setenv(key, value)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        apply_runtime_defaults()
        settings = Settings()
        build_history(HISTORY_END, HISTORY_DAYS, HISTORY_SCALE, feature_step=FEATURE_STEP, settings=settings)
    return root


@pytest.fixture
def ml_lake(history_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh copy of the history lake (its own MLflow store beside its catalog)."""
    root = tmp_path / "ml"
    shutil.copytree(history_template, root)
    for key, value in _lake_env(root).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Settings()


from tests.alerts.conftest import Receivers, receivers  # noqa: E402, F401  (loopback webhook fixture)
