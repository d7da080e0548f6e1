"""The quality ledger: one Delta table with one row per check per table per run (quality/README.md has the
schema). Each writer owns a `layer` and replaces that layer's rows of a run date, so reruns never append:

    layer    source   rows                                                       written by
    raw      soda     Soda contract checks on the raw tables                     write_ledger
    marts    soda     Soda contract checks on the marts                          write_ledger
    ingest   ingest   schema drift seen while loading                            write_drift
    dbt      dbt      every dbt test and unit test, every node that did not build write_dbt_results
    volume   lake     rows per raw table and mart, from the Delta log            write_volumes
    publish  publish  publish decisions (published, withheld, restored)          write_publish_decision
    monitor  monitor  freshness, volume anomaly and performance checks           write_monitor
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from ingestion.batches import RetractReport
from ingestion.registry import load_registry
from ingestion.report import IngestReport
from lakehouse.lake import open_table, replace_partition
from lakehouse.layout import analytics_table, quality_ledger, raw_schema_name, raw_table
from lakehouse.settings import Settings, get_settings
from lakehouse.transform import DbtNodeResult, DbtSummary
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
        # Added in the ledger's second version (an older ledger gets them on its next write: upgrade_ledger).
        pa.field("source", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("table_version", pa.int64()),
        pa.field("sample", pa.string()),
    ]
)

SOURCE_OF_LAYER = {
    "raw": "soda",
    "marts": "soda",
    "ingest": "ingest",
    "dbt": "dbt",
    "volume": "lake",
    "publish": "publish",
    "monitor": "monitor",
}
Decision = Literal["published", "withheld", "restored"]
DECISIONS = ("published", "withheld", "restored")
_DBT_OUTCOMES = {"pass": "passed", "success": "passed", "warn": "warned", "fail": "failed"}
SAMPLE_ROWS = 5


def ledger_uri(settings: Settings | None = None) -> str:
    return quality_ledger(settings)


def sample_json(rows: Iterable[Mapping[str, Any]], limit: int = SAMPLE_ROWS) -> str:
    """The `sample` column's text: the first `limit` rows as a JSON list of objects (dates, decimals as
    strings). For failed dbt tests and withheld candidates: a few rows that show what is wrong."""
    return json.dumps([dict(r) for _, r in zip(range(limit), rows, strict=False)], default=str)


def _row(run_date: date, layer: str, **fields: Any) -> dict[str, Any]:
    return {"run_date": run_date, "layer": layer, "source": SOURCE_OF_LAYER[layer], **fields}


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)


def upgrade_ledger(settings: Settings | None = None) -> bool:
    """Give a ledger written before a column was added the current schema (Delta schema merge, no rewrite of
    its rows) and fill `source` of its old rows from their layer. True when it changed the table."""
    settings = settings or get_settings()
    table = open_table(ledger_uri(settings), settings)
    if table is None:
        return False
    have = {field.name for field in table.schema().fields}
    if {field.name for field in LEDGER_SCHEMA} <= have:
        return False
    replace_partition(ledger_uri(settings), _table([]), "false", settings, schema_mode="merge")
    cases = " ".join(f"WHEN layer = '{layer}' THEN '{src}'" for layer, src in SOURCE_OF_LAYER.items())
    table = open_table(ledger_uri(settings), settings)
    assert table is not None
    table.update(predicate="source IS NULL", updates={"source": f"CASE {cases} ELSE layer END"})
    return True


def _replace(rows: list[dict[str, Any]], predicate: str, settings: Settings | None) -> str:
    """Replace the ledger rows matching `predicate` with `rows` (upgrading an older ledger first)."""
    settings = settings or get_settings()
    upgrade_ledger(settings)
    uri = ledger_uri(settings)
    replace_partition(uri, _table(rows), predicate, settings, schema_mode="merge")
    return uri


def _check_rows(results: Iterable[CheckRow], run_date: date, run_id: str | None) -> list[dict[str, Any]]:
    return [
        _row(
            run_date,
            r.layer,
            contract=r.contract,
            dataset=r.dataset,
            check=r.check,
            check_type=r.check_type,
            column=r.column,
            check_name=r.name,
            outcome=r.outcome,
            level=r.level,
            value=r.value,
            threshold=r.threshold,
            detail=r.detail,
            run_id=run_id,
        )
        for r in results
    ]


def ledger_table(report: ScanReport, run_date: date, run_id: str | None = None) -> pa.Table:
    """The report as ledger rows. No wall-clock column: a rerun writes identical rows (Delta's commit
    history records when each version was written)."""
    return _table(_check_rows(report.results, run_date, run_id))


def _day(run_date: date) -> str:
    return f"run_date = '{run_date.isoformat()}'"


def write_ledger(
    report: ScanReport, run_date: date, settings: Settings | None = None, run_id: str | None = None
) -> str:
    """Replace the ledger rows of (run_date, the report's layers) with this report's rows; returns the URI.

    Idempotent: a rerun for the same date and layer replaces, never appends. A scan of layer 'all' replaces
    both layers' rows of that date (never the `ingest` rows: drift and retractions).
    """
    layers = ("raw", "marts") if report.layer == "all" else (report.layer,)
    predicate = f"{_day(run_date)} AND layer IN ({', '.join(repr(layer) for layer in layers)})"
    return _replace(_check_rows(report.results, run_date, run_id), predicate, settings)


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


def write_drift(
    reports: list[IngestReport], run_date: date, settings: Settings | None = None, run_id: str | None = None
) -> int:
    """Replace the ledger's schema-drift rows of `run_date` with this run's; returns how many."""
    rows = _check_rows(drift_rows(reports), run_date, run_id)
    _replace(rows, f"{_day(run_date)} AND layer = 'ingest' AND check_type = 'schema_drift'", settings)
    return len(rows)


# ----- dbt


def dbt_dataset(tested_node: str | None) -> str:
    """The catalog name of what a dbt node is about: a model's name, `raw_<source>.<table>` for a source."""
    if not tested_node:
        return "(unknown)"
    parts = tested_node.split(".")
    if parts[0] == "source" and len(parts) >= 4:
        return f"{raw_schema_name(parts[2])}.{parts[3]}"
    return parts[-1]


def dbt_rows(
    nodes: Sequence[DbtNodeResult], run_date: date, run_id: str | None = None
) -> list[dict[str, Any]]:
    """One ledger row per dbt test/unit test and per node that did not build. `value` is the failing rows of
    a test; a test of severity warn that fails is `warned` (as dbt reports it)."""
    return [
        _row(
            run_date,
            "dbt",
            contract=f"dbt_project/{n.file}" if n.file else "dbt_project",
            dataset=dbt_dataset(n.tested_node),
            check=n.unique_id,
            check_type=n.test_type or n.kind,
            column=n.column,
            check_name=n.name,
            outcome=_DBT_OUTCOMES.get(n.status, n.status),
            level="warn" if n.severity == "warn" else "blocking",
            value=float(n.failures) if n.failures is not None and n.kind == "test" else None,
            threshold=f"severity {n.severity}" if n.severity else None,
            detail=n.message or None if n.status not in ("pass", "success") else None,
            sample=n.sample,
            run_id=run_id,
        )
        for n in nodes
    ]


def write_dbt_results(
    summary_or_results: DbtSummary | Sequence[DbtNodeResult] | None,
    run_date: date,
    settings: Settings | None = None,
    run_id: str | None = None,
) -> int:
    """Replace the ledger's dbt rows of `run_date` with this build's (a DbtSummary from run_dbt_build or
    DbtBuildFailed.summary, or its `nodes`); returns how many. None (dbt did not run at all) writes nothing.
    A build narrowed with --select replaces the date's dbt rows with the rows of what it ran."""
    if summary_or_results is None:
        return 0
    nodes = summary_or_results.nodes if isinstance(summary_or_results, DbtSummary) else summary_or_results
    rows = dbt_rows(nodes, run_date, run_id)
    _replace(rows, f"{_day(run_date)} AND layer = 'dbt'", settings)
    return len(rows)


# ----- publish decisions


def write_publish_decision(
    run_date: date,
    model: str,
    decision: Decision,
    version: int | None,
    detail: str,
    run_id: str | None,
    settings: Settings | None = None,
    sample: str | None = None,
) -> str:
    """Record that `model`'s candidate of `run_date` was published (as Delta `version`), withheld (readers
    keep the last good version, `version`) or restored (readers pinned back to `version`).

    Idempotent per (run_date, model, decision): a rerun replaces that row. `detail` says why (the failing
    checks of a withheld candidate); `sample` is a few rows as JSON text (`sample_json`)."""
    if decision not in DECISIONS:
        raise ValueError(f"publish decision {decision!r} for {model}: use published, withheld or restored")
    row = _row(
        run_date,
        "publish",
        contract="publish",
        dataset=model,
        check=decision,
        check_type="publish",
        column=None,
        check_name=f"{model} {decision}",
        outcome=decision,
        level="blocking",
        value=float(version) if version is not None else None,
        detail=detail,
        table_version=version,
        run_id=run_id,
        sample=sample,
    )
    model_sql = model.replace("'", "''")
    predicate = (
        f"{_day(run_date)} AND layer = 'publish' AND dataset = '{model_sql}' AND \"check\" = '{decision}'"
    )
    return _replace([row], predicate, settings)


# ----- volume


def lake_tables(settings: Settings | None = None, contracts_dir: Path | None = None) -> dict[str, str]:
    """Catalog name -> Delta URI of every registered source's raw tables and every mart with a contract."""
    from quality.scan import CONTRACTS_DIR, contract_files, dataset_id

    settings = settings or get_settings()
    tables = {
        f"{raw_schema_name(name)}.{entity}": raw_table(name, entity, settings)
        for name, source in sorted(load_registry(settings).items())
        for entity in source.entities
    }
    for contract in contract_files("marts", contracts_dir or CONTRACTS_DIR):
        model = dataset_id(contract).table
        tables[model] = analytics_table(model, settings)
    return tables


def volume_row(
    run_date: date, dataset: str, uri: str, settings: Settings, run_id: str | None
) -> dict[str, Any]:
    """Rows in the current version of one table, from the Delta log's add actions (no data file is read).
    No table version: a rerun rewrites the marts as new versions, and the ledger must not differ for it."""
    table = open_table(uri, settings)
    base: dict[str, Any] = {
        "contract": uri.removeprefix(settings.root).strip("/"),
        "dataset": dataset,
        "check": "volume",
    }
    base |= {"check_type": "volume", "column": None, "check_name": "rows in the table", "level": "warn"}
    if table is None:
        return _row(
            run_date, "volume", **base, outcome="missing", detail=f"no Delta table at {uri}", run_id=run_id
        )
    counts = pa.table(table.get_add_actions(flatten=True)).column("num_records").to_pylist()
    unknown = sum(1 for n in counts if n is None)
    detail = f"{unknown} data files have no row count statistics: value is a lower bound" if unknown else None
    return _row(
        run_date,
        "volume",
        **base,
        outcome="recorded",
        value=float(sum(n for n in counts if n is not None)),
        detail=detail,
        run_id=run_id,
    )


def write_volumes(
    run_date: date,
    settings: Settings | None = None,
    tables: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> int:
    """Replace the ledger's volume rows of `run_date`: one per raw table and mart (`lake_tables`), with its
    row count and Delta version. Cheap: reads only table metadata."""
    settings = settings or get_settings()
    tables = lake_tables(settings) if tables is None else tables
    rows = [volume_row(run_date, name, uri, settings, run_id) for name, uri in tables.items()]
    _replace(rows, f"{_day(run_date)} AND layer = 'volume'", settings)
    return len(rows)


def write_monitor(
    rows: Sequence[Mapping[str, Any]],
    run_date: date,
    settings: Settings | None = None,
    run_id: str | None = None,
) -> int:
    """Replace the ledger's monitor rows of `run_date` (quality/monitoring: freshness, volume anomalies,
    performance); each row gives contract, dataset, check, check_type, check_name, outcome, value, threshold
    and detail. Level warn: a finding alerts, it never blocks."""
    table_rows = [_row(run_date, "monitor", column=None, level="warn", run_id=run_id, **r) for r in rows]
    _replace(table_rows, f"{_day(run_date)} AND layer = 'monitor'", settings)
    return len(table_rows)


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
    _replace(_check_rows(rows, report.run_date, None), predicate, settings)
    return len(rows)
