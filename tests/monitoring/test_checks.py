"""Freshness against the SLA set in the registry (or the default), performance against the trailing runs'
median, and the policy each table gets; on a real Delta lake in tmp_path."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from deltalake import write_deltalake

from ingestion.shop.schema import SHOP_SOURCE_FILE
from lakehouse.files import write_text
from lakehouse.layout import raw_table, run_summary_file
from lakehouse.settings import Settings
from quality.monitoring.freshness import freshness_checks
from quality.monitoring.performance import performance_checks
from quality.monitoring.policy import table_policies

D = date(2026, 11, 20)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shop's registry entry with a source-wide SLA of 30 h and 2 h for payments."""
    spec = yaml.safe_load(SHOP_SOURCE_FILE.read_text())
    spec["monitor"] = {"freshness_sla_hours": 30, "volume": {"min_rows": 50}}
    spec["entities"]["payments"]["monitor"] = {"freshness_sla_hours": 2, "volume": {"check": False}}
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "shop.yml").write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("LAKEHOUSE_SOURCES_DIR", str(folder))
    return folder


def test_policies_come_from_the_entity_then_the_source_then_the_settings(
    registry: Path, lake_settings: Settings, tmp_path: Path
) -> None:
    marts_file = tmp_path / "monitor.yml"
    marts_file.write_text("marts:\n  fct_orders: {freshness_sla_hours: 6}\n")
    policies = {
        p.dataset: p
        for p in table_policies(Settings(), marts=["fct_orders", "dim_customers"], marts_file=marts_file)
    }
    assert policies["raw_shop.payments"].freshness_sla_hours == 2
    assert not policies["raw_shop.payments"].volume.check
    assert policies["raw_shop.orders"].freshness_sla_hours == 30
    assert policies["raw_shop.orders"].volume.min_rows == 50
    assert policies["raw_shop.orders"].volume.sensitivity == 3.5  # LAKEHOUSE_VOLUME_SENSITIVITY's default
    assert policies["fct_orders"].freshness_sla_hours == 6
    assert policies["fct_orders"].configured_in == "quality/monitor.yml"
    assert policies["dim_customers"].freshness_sla_hours == 26  # LAKEHOUSE_FRESHNESS_SLA_HOURS


def test_an_invalid_monitor_section_names_the_file_and_field(registry: Path, lake_settings: Settings) -> None:
    from ingestion.registry import RegistryError, load_registry

    spec = yaml.safe_load((registry / "shop.yml").read_text())
    spec["monitor"]["freshness_sla_hours"] = -1
    (registry / "shop.yml").write_text(yaml.safe_dump(spec))
    with pytest.raises(RegistryError, match=r"monitor\.freshness_sla_hours"):
        load_registry(Settings())


def test_a_stale_table_and_a_missing_one_breach_their_sla(registry: Path, lake_settings: Settings) -> None:
    settings = Settings()
    for entity in ("orders", "payments"):
        write_deltalake(raw_table("shop", entity, settings), pa.table({"x": [1]}))
    policies = [p for p in table_policies(settings, marts=[]) if p.dataset != "raw_shop.customers"]
    checks = {
        c.dataset: c for c in freshness_checks(policies, settings, datetime.now(UTC) + timedelta(hours=3))
    }

    assert checks["raw_shop.orders"].outcome == "passed"  # 3 h old, SLA 30 h
    stale = checks["raw_shop.payments"]
    assert stale.outcome == "warned" and stale.kind == "freshness_breach"
    assert "older than its freshness SLA of 2 h" in stale.message()
    assert "ingestion/sources/shop.yml" in stale.message() and stale.value == pytest.approx(3, abs=0.1)
    missing = checks["raw_shop.products"]
    assert missing.outcome == "warned" and "no data at" in (missing.detail or "")


def _summary(settings: Settings, day: date, run_id: str, started: datetime, stages: dict[str, float]) -> None:
    data = {
        "run_date": day.isoformat(),
        "run_id": run_id,
        "started_at": started.isoformat(),
        "stage_seconds": stages,
        "seconds": sum(stages.values()),
        "ok": True,
    }
    write_text(run_summary_file(day, run_id, settings), json.dumps(data), settings)


NORMAL = {"ingest": 20.0, "raw_gate": 10.0, "dbt": 60.0, "publish": 2.0}


def test_an_artificially_slow_stage_is_a_performance_degradation(lake_settings: Settings) -> None:
    settings = Settings()
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    for i in range(7):
        day = D - timedelta(days=7 - i)
        _summary(
            settings,
            day,
            f"run-{i}",
            start + timedelta(days=i),
            {k: v * (1 + i / 50) for k, v in NORMAL.items()},
        )
    _summary(settings, D, "slow", start + timedelta(days=8), NORMAL | {"dbt": 300.0})

    checks = {c.dataset: c for c in performance_checks(D, settings)}
    slow = checks["nightly.dbt"]
    assert slow.outcome == "warned" and slow.kind == "performance_degradation"
    assert (
        "stage dbt of run slow (2026-11-20) took 300.0 s" in slow.message()
        and "last 7 runs" in slow.message()
    )
    assert checks["nightly.total"].outcome == "warned"  # 392 s against ~100 s
    assert {checks[f"nightly.{s}"].outcome for s in ("ingest", "raw_gate", "publish")} == {"passed"}


def test_small_slowdowns_and_short_histories_are_not_findings(lake_settings: Settings) -> None:
    settings = Settings()
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    for i in range(2):
        _summary(settings, D - timedelta(days=2 - i), f"run-{i}", start + timedelta(days=i), NORMAL)
    _summary(settings, D, "slow", start + timedelta(days=5), NORMAL | {"dbt": 600.0})
    assert {c.outcome for c in performance_checks(D, settings)} == {"skipped"}  # 2 of 3 earlier runs

    _summary(settings, D - timedelta(days=3), "run-x", start - timedelta(days=1), NORMAL)
    _summary(settings, D, "slow", start + timedelta(days=5), NORMAL | {"publish": 20.0})  # 10x, but +18 s
    checks = {c.dataset: c for c in performance_checks(D, settings, run_id="slow")}
    assert checks["nightly.publish"].outcome == "passed"


def test_the_shipped_marts_file_is_valid_and_names_real_marts() -> None:
    from quality.monitoring.policy import MARTS_FILE, load_marts_file

    config = load_marts_file(MARTS_FILE)
    models = {p.stem for p in (MARTS_FILE.parent / "contracts" / "marts").glob("*.yml")}
    assert config.marts and set(config.marts) <= models
