"""The quality ledger: one Delta table with every check result per run date, rewritten per (date, layer)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from ingestion.report import IngestReport
from lakehouse.lake import replace_partition
from lakehouse.layout import quality_ledger
from lakehouse.settings import Settings, get_settings
from quality.report import CheckRow, ScanReport

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("run_date", pa.date32(), nullable=False),
        pa.field("layer", pa.string(), nullable=False),
        pa.field("contract", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("check", pa.string(), nullable=False),
        pa.field("check_type", pa.string(), nullable=False),
        pa.field("column", pa.string()),
        pa.field("check_name", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("level", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("threshold", pa.string()),
        pa.field("detail", pa.string()),
    ]
)


def ledger_uri(settings: Settings | None = None) -> str:
    return quality_ledger(settings)


def ledger_table(report: ScanReport, run_date: date) -> pa.Table:
    """The report as ledger rows. No wall-clock column: a rerun writes identical rows (Delta's commit
    history records when each version was written)."""
    rows = [
        {
            "run_date": run_date,
            "layer": r.layer,
            "contract": r.contract,
            "dataset": r.dataset,
            "check": r.check,
            "check_type": r.check_type,
            "column": r.column,
            "check_name": r.name,
            "outcome": r.outcome,
            "level": r.level,
            "value": r.value,
            "threshold": r.threshold,
            "detail": r.detail,
        }
        for r in report.results
    ]
    return pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)


def write_ledger(report: ScanReport, run_date: date, settings: Settings | None = None) -> str:
    """Replace the ledger rows of (run_date, the report's layers) with this report's rows; returns the URI.

    Idempotent: a rerun for the same date and layer replaces, never appends. A scan of layer 'all' replaces
    both layers' rows of that date.
    """
    settings = settings or get_settings()
    predicate = f"run_date = '{run_date.isoformat()}'"
    if report.layer != "all":
        predicate += f" AND layer = '{report.layer}'"
    uri = ledger_uri(settings)
    replace_partition(uri, ledger_table(report, run_date), predicate, settings)
    return uri


def drift_rows(reports: list[IngestReport]) -> list[CheckRow]:
    """Schema drift seen by ingestion as ledger rows (warn level: the data landed, someone should look)."""
    return [
        CheckRow(
            layer="ingest",
            contract=f"ingestion/sources/{r.source}.yml",
            dataset=f"raw_{r.source}.{e.entity}",
            check="schema.drift",
            check_type="schema_drift",
            column=None,
            name=note,
            outcome="warned",
            level="warn",
            detail=note,
        )
        for r in reports
        for e in r.entities.values()
        for note in e.drift()
    ]


def write_drift(reports: list[IngestReport], run_date: date, settings: Settings | None = None) -> int:
    """Replace the ledger's schema-drift rows of `run_date` with this run's; returns how many."""
    rows = drift_rows(reports)
    scan = ScanReport(run_date=run_date, layer="all", results=rows)
    predicate = f"run_date = '{run_date.isoformat()}' AND layer = 'ingest'"
    replace_partition(
        ledger_uri(settings), ledger_table(scan, run_date), predicate, settings or get_settings()
    )
    return len(rows)


def write_publish_decision(
    run_date: date,
    model: str,
    decision: str,
    version: int | None,
    detail: str,
    run_id: str,
    settings: Settings | None = None,
) -> None:
    """Record a write-audit-publish decision (published | withheld | restored) of one mart: replaces that
    mart's row of the same decision for `run_date` (layer `publish`)."""
    row = CheckRow(
        layer="publish",
        contract=f"wap/{run_id}",
        dataset=model,
        check="publish.decision",
        check_type="publish",
        column=None,
        name=decision,
        outcome="failed" if decision == "withheld" else "passed",
        level="blocking",
        value=float(version) if version is not None else None,
        detail=detail,
    )
    scan = ScanReport(run_date=run_date, layer="all", results=[row])
    predicate = (
        f"run_date = '{run_date.isoformat()}' AND layer = 'publish' AND dataset = '{model}'"
        f" AND check_name = '{decision}'"
    )
    replace_partition(
        ledger_uri(settings), ledger_table(scan, run_date), predicate, settings or get_settings()
    )
