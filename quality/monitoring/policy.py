"""What the monitor expects of each table: freshness SLA and volume parameters, resolved from the settings'
defaults, the source registry (a source's `monitor:`, then its entity's) and quality/monitor.yml (marts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ingestion.registry import Monitor, load_registry
from lakehouse.layout import analytics_table, raw_schema_name, raw_table
from lakehouse.settings import PROJECT_DIR, Settings, get_settings

MARTS_FILE = PROJECT_DIR / "quality" / "monitor.yml"


class MartsMonitorFile(BaseModel):
    """quality/monitor.yml: what the monitor expects of the marts (a mart not named takes `defaults`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    defaults: Monitor = Monitor()
    marts: dict[str, Monitor] = {}


@dataclass(frozen=True)
class VolumePolicy:
    check: bool
    sensitivity: float
    training_days: int
    min_history: int
    min_change: float
    min_rows: int


@dataclass(frozen=True)
class TablePolicy:
    """One monitored table: its catalog name, Delta URI, where its policy is set, and the policy."""

    dataset: str
    uri: str
    kind: str  # raw | mart
    configured_in: str
    freshness_sla_hours: float
    volume: VolumePolicy


def _merged(*layers: Monitor | None) -> dict[str, Any]:
    """The fields set explicitly, later layers over earlier ones (volume merged field by field)."""
    out: dict[str, Any] = {"volume": {}}
    for layer in layers:
        if layer is None:
            continue
        data = layer.model_dump(exclude_unset=True)
        out["volume"] |= data.pop("volume", {})
        out |= {k: v for k, v in data.items() if v is not None}
    return out


def _policy(
    dataset: str, uri: str, kind: str, where: str, merged: dict[str, Any], s: Settings
) -> TablePolicy:
    v = {k: val for k, val in merged["volume"].items() if val is not None}
    volume = VolumePolicy(
        check=v.get("check", True),
        sensitivity=v.get("sensitivity", s.lakehouse_volume_sensitivity),
        training_days=v.get("training_days", s.lakehouse_volume_training_days),
        min_history=v.get("min_history", s.lakehouse_volume_min_history),
        min_change=v.get("min_change", s.lakehouse_volume_min_change),
        min_rows=v.get("min_rows", s.lakehouse_volume_min_rows),
    )
    sla = float(merged.get("freshness_sla_hours", s.lakehouse_freshness_sla_hours))
    return TablePolicy(dataset, uri, kind, where, sla, volume)


def load_marts_file(path: Path = MARTS_FILE) -> MartsMonitorFile:
    """quality/monitor.yml (empty defaults when there is none); ValueError naming the file and field."""
    if not path.exists():
        return MartsMonitorFile()
    try:
        return MartsMonitorFile.model_validate(yaml.safe_load(path.read_text()) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"{path}: invalid monitor file: {exc}") from None


def table_policies(
    settings: Settings | None = None, marts: list[str] | None = None, marts_file: Path = MARTS_FILE
) -> list[TablePolicy]:
    """Every registered source's raw tables and every mart (default: the marts with a contract) with what
    the monitor expects of them."""
    from quality.ledger import lake_tables

    settings = settings or get_settings()
    policies = []
    for name, source in sorted(load_registry(settings).items()):
        for entity in source.entities.values():
            merged = _merged(source.monitor, entity.monitor)
            dataset = f"{raw_schema_name(name)}.{entity.name}"
            where = f"ingestion/sources/{name}.yml"
            policies.append(
                _policy(dataset, raw_table(name, entity.name, settings), "raw", where, merged, settings)
            )
    config = load_marts_file(marts_file)
    if marts is None:
        marts = [t for t in lake_tables(settings) if "." not in t]
    for model in sorted(set(marts) | set(config.marts)):
        merged = _merged(config.defaults, config.marts.get(model))
        where = "quality/monitor.yml" if model in config.marts else "LAKEHOUSE_* settings"
        policies.append(_policy(model, analytics_table(model, settings), "mart", where, merged, settings))
    return policies
