"""The quality ledger: one Delta table with every check result per run date, rewritten per (date, layer)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from ingestion.batches import RetractReport
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
    both layers' rows of that date (never the `ingest` rows: drift and retractions).
    """
    settings = settings or get_settings()
    layers = "'raw', 'marts'" if report.layer == "all" else f"'{report.layer}'"
    predicate = f"run_date = '{run_date.isoformat()}' AND layer IN ({layers})"
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
    predicate = f"run_date = '{run_date.isoformat()}' AND layer = 'ingest' AND check_type = 'schema_drift'"
    replace_partition(
        ledger_uri(settings), ledger_table(scan, run_date), predicate, settings or get_settings()
    )
    return len(rows)


def retraction_rows(report: RetractReport) -> list[CheckRow]:
    """One ledger row per retracted batch (layer ingest, check_type retraction), its rows as the value."""
    return [
        CheckRow(
            layer="ingest",
            contract=f"ingestion/sources/{report.source}.yml",
            dataset=f"raw_{report.source}.{r.entity}",
            check=f"batch.retraction.{r.retracted_app_id}",
            check_type="retraction",
            column=None,
            name=f"batch {r.batch_id} retracted: {report.reason}",
            outcome="warned",
            level="warn",
            value=float(r.rows),
            detail=(
                f"{r.rows} rows removed from {r.raw_table} and {r.quarantined} quarantine records; "
                f"delivery {r.retracted_app_id} retracted, a redelivery lands as {r.next_app_id}"
            ),
        )
        for r in report.retracted
    ]


def write_retraction(report: RetractReport, settings: Settings | None = None) -> int:
    """Record the retracted batches of `report` in the ledger (run date = the batch's); returns how many.

    Each retraction of a batch is its own row (keyed by the retracted delivery), so a batch retracted twice
    keeps both, and recording the same retraction again replaces its row.
    """
    rows = retraction_rows(report)
    if not rows:
        return 0
    checks = ", ".join(f"'{r.check}'" for r in rows)
    predicate = (
        f"run_date = '{report.run_date.isoformat()}' AND layer = 'ingest' "
        f"AND check_type = 'retraction' AND \"check\" IN ({checks})"
    )
    scan = ScanReport(run_date=report.run_date, layer="all", results=rows)
    replace_partition(
        ledger_uri(settings), ledger_table(scan, report.run_date), predicate, settings or get_settings()
    )
    return len(rows)
