"""`lakehouse status`: the last runs and, per table, its Delta version, rows, last commit, freshness, open
failures and withheld publications; red when anything needs an operator.

Read-only and cheap: the run summaries (lakehouse/runs.py), the Delta logs (no data file is read) and
the quality ledger rows of the last run's date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ingestion.registry import load_registry
from lakehouse.files import list_dirs
from lakehouse.lake import duckdb_session, open_table
from lakehouse.layout import analytics_table, features_table, quality_ledger, raw_schema_name, raw_table
from lakehouse.runs import RunRecord, run_records
from lakehouse.settings import Settings, get_settings
from quality.monitoring.policy import table_policies


def freshness_slas(settings: Settings) -> dict[str, timedelta]:
    """How old each table's last commit may be before it is stale: the monitor's SLA per table (registry
    `monitor:`, quality/monitor.yml); a table neither names gets LAKEHOUSE_FRESHNESS_SLA_HOURS."""
    return {p.dataset: timedelta(hours=p.freshness_sla_hours) for p in table_policies(settings)}


def freshness_sla(dataset: str, settings: Settings, slas: dict[str, timedelta] | None = None) -> timedelta:
    return (slas or {}).get(dataset, timedelta(hours=settings.lakehouse_freshness_sla_hours))


@dataclass
class TableStatus:
    dataset: str  # catalog name: raw_<source>.<entity>, the mart, features.<name>
    uri: str
    version: int | None = None  # None: no Delta table yet
    rows: int | None = None
    last_commit: datetime | None = None
    sla: timedelta = timedelta(hours=26)
    open_failures: list[str] = field(default_factory=list)  # failed checks of the last run's date
    withheld: bool = False  # the last run's date withheld this mart's candidate

    @property
    def age(self) -> timedelta | None:
        return None if self.last_commit is None else datetime.now(UTC) - self.last_commit

    @property
    def fresh(self) -> bool:
        return self.age is not None and self.age <= self.sla

    @property
    def red(self) -> bool:
        return not self.fresh or bool(self.open_failures) or self.withheld

    def to_dict(self) -> dict[str, object]:
        age = self.age
        return {
            "dataset": self.dataset,
            "uri": self.uri,
            "version": self.version,
            "rows": self.rows,
            "last_commit": self.last_commit.isoformat() if self.last_commit else None,
            "age_hours": round(age.total_seconds() / 3600, 2) if age is not None else None,
            "sla_hours": self.sla.total_seconds() / 3600,
            "fresh": self.fresh,
            "open_failures": self.open_failures,
            "withheld": self.withheld,
            "red": self.red,
        }


@dataclass
class LakeStatus:
    lake: str
    runs: list[RunRecord]  # the last runs, newest first
    tables: list[TableStatus]

    @property
    def last_run(self) -> RunRecord | None:
        return self.runs[0] if self.runs else None

    def problems(self) -> list[str]:
        """What is red, one line each (empty: green)."""
        found = []
        last = self.last_run
        if last is None:
            found.append("no run has finished on this lake yet: run `lakehouse run`")
        elif not last.ok:
            where = f" at the {last.stopped_at}" if last.stopped_at else ""
            found.append(f"the last run ({last.run_date}) failed{where}")
        for t in self.tables:
            if t.version is None:
                found.append(f"{t.dataset}: no Delta table at {t.uri}")
            elif not t.fresh:
                found.append(f"{t.dataset}: stale, last commit {_hours(t.age)} ago (SLA {_hours(t.sla)})")
            found += [f"{t.dataset}: open failure: {f}" for f in t.open_failures]
            if t.withheld:
                found.append(f"{t.dataset}: its candidate was withheld (`lakehouse quality inspect`)")
        return found

    @property
    def red(self) -> bool:
        return bool(self.problems())

    def to_dict(self) -> dict[str, object]:
        return {
            "lake": self.lake,
            "red": self.red,
            "problems": self.problems(),
            "runs": [
                {
                    "run_date": r.run_date.isoformat(),
                    "run_id": r.run_id,
                    "outcome": r.outcome,
                    "started_at": r.started_at.isoformat() if r.started_at else None,
                    "seconds": r.seconds,
                    "stopped_at": r.stopped_at,
                }
                for r in self.runs
            ],
            "tables": [t.to_dict() for t in self.tables],
        }


def _hours(delta: timedelta | None) -> str:
    return "?" if delta is None else f"{delta.total_seconds() / 3600:.1f} h"


def status_tables(settings: Settings) -> dict[str, str]:
    """Catalog name -> URI of every table status reports: the registry's raw tables, the marts, features."""
    tables = {
        f"{raw_schema_name(name)}.{entity}": raw_table(name, entity, settings)
        for name, source in sorted(load_registry(settings).items())
        for entity in source.entities
    }
    for model in list_dirs(settings.uri("analytics"), settings):
        tables[model] = analytics_table(model, settings)
    for name in list_dirs(settings.uri("features"), settings):
        tables[f"features.{name}"] = features_table(name, settings)
    return tables


def table_status(
    dataset: str, uri: str, settings: Settings, slas: dict[str, timedelta] | None = None
) -> TableStatus:
    """Version, rows (from the Delta log's statistics) and last commit time of one table."""
    status = TableStatus(dataset, uri, sla=freshness_sla(dataset, settings, slas))
    table = open_table(uri, settings)
    if table is None:
        return status
    status.version = table.version()
    counts = pa.table(table.get_add_actions(flatten=True)).column("num_records").to_pylist()
    status.rows = sum(n for n in counts if n is not None)
    (last,) = table.history(1)
    status.last_commit = datetime.fromtimestamp(last["timestamp"] / 1000, tz=UTC)
    return status


def ledger_findings(run_date: object, settings: Settings) -> tuple[dict[str, list[str]], set[str]]:
    """The last run date's failed checks per dataset, and the marts whose candidate it withheld."""
    uri = quality_ledger(settings)
    if open_table(uri, settings) is None:
        return {}, set()
    sql = f"""
        select dataset, layer, check_name, outcome
        from delta_scan('{uri}')
        where run_date = ?
          and (outcome in ('failed', 'error') or (layer = 'publish' and outcome = 'withheld'))
        order by dataset, layer, check_name
    """
    with duckdb_session(settings=settings) as con:
        rows = con.execute(sql, [run_date]).fetchall()
    failures: dict[str, list[str]] = {}
    withheld = set()
    for dataset, layer, check_name, outcome in rows:
        if layer == "publish":
            withheld.add(dataset)
        else:
            failures.setdefault(dataset, []).append(f"{check_name} ({layer} {outcome})")
    return failures, withheld


def lake_status(settings: Settings | None = None, last_runs: int = 10) -> LakeStatus:
    settings = settings or get_settings()
    runs = list(reversed(run_records(settings)))[:last_runs]
    slas = freshness_slas(settings)
    tables = [table_status(name, uri, settings, slas) for name, uri in status_tables(settings).items()]
    if runs:
        failures, withheld = ledger_findings(runs[0].run_date, settings)
        for t in tables:
            t.open_failures = failures.pop(t.dataset, [])
            t.withheld = t.dataset in withheld
        tables += [TableStatus(name, "", open_failures=f) for name, f in failures.items()]
    return LakeStatus(settings.root, runs, tables)
