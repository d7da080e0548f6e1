"""Verify the Soda contracts under quality/contracts against the lake for one logical run date.

Plain, typed functions (no Prefect): an in-memory DuckDB session gets views over the Delta tables the
contracts name, then each contract is verified with Soda Core's Python API on that connection.

A contract's dataset id `lakehouse/<schema>/<table>` is the table's one name in the catalog:
`raw/<source>/<entity>.yml` names `lakehouse/raw_<source>/<entity>` (the Delta table raw/<source>/<entity>,
dbt's `source('<source>', '<entity>')`); `marts/<model>.yml` names `lakehouse/main/<model>`
(the Delta table analytics/<model>).

Raw contracts judge one batch, not the history: each declares `filter: _batch_id = ${var.BATCH}` and the
scan sets BATCH to the run date's batch `'<source>/<entity>/<date>'` (the bare soda CLI defaults it to the
newest batch). "Key seen before" checks are `failed_rows` queries comparing the batch with earlier ones. So
a bad batch fails its own night, and a clean later batch passes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ingestion.batches import batch_committed, batch_id, delivery_app_id
from lakehouse.lake import create_lake_views, duckdb_session, open_table
from lakehouse.layout import analytics_table, raw_schema_name, raw_schema_source, raw_table
from lakehouse.settings import TELEMETRY_OFF, Settings, get_settings
from lakehouse.wap import audited_state_sql, run_candidates
from quality.ledger import write_ledger
from quality.report import CheckRow, Layer, Level, Outcome, ScanReport

__all__ = ["CONTRACTS_DIR", "DatasetId", "contract_files", "dataset_id", "verify_contracts", "write_ledger"]

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
DATA_SOURCE_NAME = "lakehouse"  # the first part of every contract's dataset id
MARTS_SCHEMA = "main"  # dbt's models live in the catalog's default schema
RUN_END_VARIABLE = "RUN_END"  # freshness checks measure against this instead of the wall clock
BATCH_VARIABLE = "BATCH"  # raw contracts filter on `_batch_id = ${var.BATCH}`: the batch they judge
BATCH_FILTER_LINE = "filter: _batch_id = ${var.BATCH}"

_DATASET_LINE = re.compile(r"^dataset:\s*(\S+)\s*$", re.MULTILINE)
_BATCH_FILTER = re.compile(r"^filter:\s*_batch_id\s*=\s*\$\{var\." + BATCH_VARIABLE + r"\}\s*$", re.MULTILINE)
_OUTCOMES: dict[str, Outcome] = {"PASSED": "passed", "WARN": "warned", "FAILED": "failed"}


@dataclass(frozen=True)
class DatasetId:
    """A contract's dataset id `<data source>/<schema>/<table>`."""

    schema: str
    table: str

    @property
    def name(self) -> str:
        """How reports name it: `raw_shop.orders` for a raw table, the bare model name for a mart."""
        return self.table if self.schema == MARTS_SCHEMA else f"{self.schema}.{self.table}"


def contract_files(layer: Layer, contracts_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """The contract files of a layer (raw/<source>/*.yml, marts/*.yml) or of both (all), in a stable order."""
    patterns = {"raw": "raw/*/*.yml", "marts": "marts/*.yml"}
    layers = ["raw", "marts"] if layer == "all" else [layer]
    return [path for name in layers for path in sorted(contracts_dir.glob(patterns[name]))]


def dataset_id(contract: Path) -> DatasetId:
    """The dataset id of a contract: `lakehouse/<schema>/<table>`."""
    match = _DATASET_LINE.search(contract.read_text())
    parts = match.group(1).split("/") if match else []
    if len(parts) != 3 or parts[0] != DATA_SOURCE_NAME or not all(parts):
        raise ValueError(
            f"{contract} has no top-level 'dataset: {DATA_SOURCE_NAME}/<schema>/<table>' line "
            f"(raw: {DATA_SOURCE_NAME}/raw_<source>/<entity>, marts: {DATA_SOURCE_NAME}/main/<model>)"
        )
    return DatasetId(schema=parts[1], table=parts[2])


def lake_uri(dataset: DatasetId, settings: Settings) -> str:
    """Where a dataset's Delta table lives: raw_<source>.<entity> in raw/, main.<model> in analytics/."""
    source = raw_schema_source(dataset.schema)
    if source:
        return raw_table(source, dataset.table, settings)
    if dataset.schema == MARTS_SCHEMA:
        return analytics_table(dataset.table, settings)
    raise ValueError(
        f"dataset schema {dataset.schema!r} is neither raw_<source> nor {MARTS_SCHEMA}: no table in the lake"
    )


def mart_candidates(run_id: str, settings: Settings) -> dict[str, str]:
    """model -> a query of its table as write-audit-publish run `run_id` would publish it (a merge
    candidate merged into the version it was computed from; an append candidate is audited as the rows it
    adds)."""
    return {
        c.model: audited_state_sql(c) for c in run_candidates(run_id, settings) if c.schema == MARTS_SCHEMA
    }


def run_end(run_date: date) -> str:
    """The end of the logical run date (midnight UTC after it), ISO 8601: the `now` of freshness checks."""
    return datetime.combine(run_date + timedelta(days=1), time(), tzinfo=UTC).isoformat()


def verify_contracts(
    run_date: date,
    layer: Layer,
    settings: Settings | None = None,
    contracts_dir: Path = CONTRACTS_DIR,
    sources: list[str] | None = None,
    candidates_of: str | None = None,
) -> ScanReport:
    """Verify every contract of `layer` against the lake; freshness is measured against `run_date`.

    A raw contract (`raw/<source>/…`) judges the run date's batch of its table. It runs only when its
    source is in `sources` (all sources if None) and that batch is committed; otherwise it is listed in
    `ScanReport.skipped` with the reason.
    With `candidates_of` (a write-audit-publish run id), a mart contract verifies that run's candidate of
    the mart instead of the published table: the audit before publishing.
    """
    settings = settings or get_settings()
    candidates = mart_candidates(candidates_of, settings) if candidates_of else {}
    variables = {RUN_END_VARIABLE: run_end(run_date)}
    rows: list[CheckRow] = []
    skipped: list[str] = []
    with duckdb_session(settings=settings) as con:
        for contract in contract_files(layer, contracts_dir):
            label = contract.relative_to(contracts_dir).as_posix()
            reason = _skip_reason(contract, sources, run_date, settings)
            if reason:
                skipped.append(f"{label}: {reason}")
                continue
            rows += _verify_contract(con, contract, label, variables, run_date, settings, candidates)
    return ScanReport(run_date=run_date, layer=layer, results=rows, skipped=skipped)


def _skip_reason(contract: Path, sources: list[str] | None, run_date: date, settings: Settings) -> str | None:
    """Why a raw contract does not run: its source is not selected, or the run date's batch of its table
    has not landed (the ingest report says why)."""
    if contract.parent.parent.name != "raw":
        return None
    source = contract.parent.name
    if sources is not None and source not in sources:
        return f"source {source} is not among this run's sources ({', '.join(sources) or 'none'})"
    try:
        dataset = _checked_dataset_id(contract, "raw")
    except ValueError:
        return None  # reported as the contract's error
    uri = raw_table(source, dataset.table, settings)
    if open_table(uri, settings) is None:
        return f"no Delta table at {uri} yet (source {source} has not landed it)"
    batch = batch_id(source, dataset.table, run_date)
    if not batch_committed(uri, batch, settings):
        app = delivery_app_id(uri, batch, settings)
        return f"no batch {batch} committed in {uri} (awaiting delivery {app}: see the ingest report)"
    return None


def _verify_contract(
    con: duckdb.DuckDBPyConnection,
    contract: Path,
    label: str,
    variables: dict[str, str],
    run_date: date,
    settings: Settings,
    candidates: dict[str, str],
) -> list[CheckRow]:
    layer = label.split("/", 1)[0]
    try:
        dataset = _checked_dataset_id(contract, layer)
        uri = lake_uri(dataset, settings)
        candidate = candidates.get(dataset.table) if dataset.schema == MARTS_SCHEMA else None
    except ValueError as exc:
        return [_ContractInfo(layer, label, contract.stem).error(str(exc))]
    base = _ContractInfo(layer, label, dataset.name)
    if layer == "raw":
        if not _BATCH_FILTER.search(contract.read_text()):
            return [base.error(f"{contract} judges no batch: add the top-level line `{BATCH_FILTER_LINE}`")]
        batch = batch_id(contract.parent.name, dataset.table, run_date)
        variables = {**variables, BATCH_VARIABLE: f"'{batch}'"}
    try:
        if candidate is None:
            create_lake_views(con, {dataset.table: uri}, schema=dataset.schema)
        else:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{dataset.schema}"')
            con.execute(f'CREATE OR REPLACE VIEW "{dataset.schema}"."{dataset.table}" AS {candidate}')
    except duckdb.Error as exc:
        return [base.error(f"cannot read the Delta table at {uri} (has the pipeline run?): {exc}")]
    try:
        result = _soda_verify(con, contract, variables)
    except Exception as exc:  # Soda raises on unreadable YAML; report it as this contract's error
        return [base.error(f"{type(exc).__name__}: {exc}")]
    rows = [base.row(check) for r in result.contract_verification_results for check in r.check_results]
    if result.has_errors:
        rows.append(base.error(result.get_errors_str().strip()[:2000]))
    if not rows:
        rows.append(base.error("Soda verified no checks: is the contract empty or mistyped?"))
    return rows


def _checked_dataset_id(contract: Path, layer: str) -> DatasetId:
    """The contract's dataset id, which must match where the file is: raw/<source>/ or marts/."""
    dataset = dataset_id(contract)
    raw = layer == "raw"
    expected = raw_schema_name(contract.parent.name) if raw else MARTS_SCHEMA
    if dataset.schema != expected:
        folder = f"raw/{contract.parent.name}/" if raw else "marts/"
        raise ValueError(
            f"{contract} names dataset schema {dataset.schema!r}, but a contract in {folder} must name "
            f"{DATA_SOURCE_NAME}/{expected}/<table>"
        )
    return dataset


def _soda_verify(con: duckdb.DuckDBPyConnection, contract: Path, variables: dict[str, str]) -> Any:
    # Soda Core reads its telemetry switch when first imported: set it off (unless set) before the import.
    os.environ.setdefault("SODA_CORE_TELEMETRY_ENABLED", TELEMETRY_OFF["SODA_CORE_TELEMETRY_ENABLED"])
    from soda_core.contracts import verify_contract_locally
    from soda_duckdb.common.data_sources.duckdb_data_source import DuckDBDataSourceImpl

    data_source = DuckDBDataSourceImpl.from_existing_cursor(con, name=DATA_SOURCE_NAME)
    return verify_contract_locally(
        data_sources=[data_source], contract_file_path=str(contract), variables=variables
    )


class _ContractInfo:
    """Turns Soda's check results of one contract into CheckRows."""

    def __init__(self, layer: str, contract: str, dataset: str) -> None:
        self.layer, self.contract, self.dataset = layer, contract, dataset

    def error(self, detail: str) -> CheckRow:
        return CheckRow(
            layer=self.layer, contract=self.contract, dataset=self.dataset, check="contract",
            check_type="contract", column=None, name="contract verifies", outcome="error", level="blocking",
            detail=detail,
        )  # fmt: skip

    def row(self, check_result: Any) -> CheckRow:
        check = check_result.check
        return CheckRow(
            layer=self.layer,
            contract=self.contract,
            dataset=self.dataset,
            check=check.relative_path,
            check_type=check.type,
            column=check.column_name,
            name=check.name or check.relative_path,
            outcome=_OUTCOMES.get(check_result.outcome.name, "error"),
            level=_level(check.threshold),
            value=_number(check_result.threshold_value),
            threshold=_describe(check.threshold, check.warn_threshold),
            detail=_detail(check_result),
        )


def _detail(check_result: Any) -> str | None:
    """Why a check did not pass, when Soda says more than the measured value (e.g. schema differences)."""
    if check_result.outcome.name == "PASSED":
        return None
    if check_result.outcome.name not in _OUTCOMES:
        return "check was not evaluated (see the contract's errors)"
    if check_result.check.type == "schema":
        return _schema_differences(check_result)
    return None


def _schema_differences(result: Any) -> str:
    parts = []
    if result.expected_column_names_not_actual:
        parts.append(f"missing columns {', '.join(result.expected_column_names_not_actual)}")
    if result.actual_column_names_not_expected:
        parts.append(f"unexpected columns {', '.join(result.actual_column_names_not_expected)}")
    mismatches = result.column_data_type_mismatches
    parts += [f"{m.column} is {m.get_actual()}, not {m.get_expected()}" for m in mismatches]
    if result.are_columns_out_of_order:
        parts.append("columns out of order")
    return "; ".join(parts)


def _level(threshold: Any) -> Level:
    """warn for a check whose only threshold is a warning; blocking for any check that can fail."""
    return "warn" if threshold is not None and str(threshold.level).lower() == "warn" else "blocking"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _describe(threshold: Any, warn_threshold: Any) -> str | None:
    def comparisons(t: Any) -> str:
        return ", ".join(str(t).splitlines()[1:])

    if threshold is None:
        return None
    text = comparisons(threshold)
    return f"{text}; warn unless {comparisons(warn_threshold)}" if warn_threshold is not None else text
