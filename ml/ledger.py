"""The ML ledger: one Delta table (`<lake>/ml/ledger`) of the model's decisions and measurements, one row per
finding: training metrics, promotion decisions, A/B evaluations per arm, drift (PSI) per feature and score.

Each writer replaces its own rows (same run date, kind and subject), so a rerun never appends twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Literal

import pyarrow as pa

from lakehouse.lake import open_table, read_table, replace_partition
from lakehouse.layout import ml_table
from lakehouse.settings import Settings, get_settings

LedgerKind = Literal["training", "promotion", "ab", "drift"]

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("run_date", pa.date32(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),  # model@version, an A/B arm, a feature
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("low", pa.float64()),  # a confidence interval's bounds, when there is one
        pa.field("high", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("outcome", pa.string(), nullable=False),  # recorded, promoted, rejected, passed, drifted …
        pa.field("model_version", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(frozen=True)
class LedgerRow:
    run_date: date
    kind: LedgerKind
    subject: str
    metric: str
    value: float | None
    outcome: str
    low: float | None = None
    high: float | None = None
    threshold: float | None = None
    model_version: str | None = None
    detail: str | None = None


def ml_ledger_uri(settings: Settings | None = None) -> str:
    return ml_table("ledger", settings)


def _quote(text: str) -> str:
    return text.replace("'", "''")


def write_ledger(
    rows: Sequence[LedgerRow], run_date: date, kind: LedgerKind, settings: Settings | None = None
) -> int:
    """Replace the ledger rows of (`run_date`, `kind`) for the subjects in `rows` with `rows`."""
    if not rows:
        return 0
    settings = settings or get_settings()
    now = datetime.now(UTC)
    table = pa.Table.from_pylist([{**asdict(r), "recorded_at": now} for r in rows], schema=LEDGER_SCHEMA)
    subjects = ", ".join(sorted({f"'{_quote(r.subject)}'" for r in rows}))
    predicate = f"run_date = '{run_date.isoformat()}' AND kind = '{kind}' AND subject IN ({subjects})"
    replace_partition(ml_ledger_uri(settings), table, predicate, settings)
    return len(rows)


def read_ledger(settings: Settings | None = None, kind: LedgerKind | None = None) -> pa.Table:
    """The whole ledger (or one kind's rows); empty when nothing was recorded yet."""
    settings = settings or get_settings()
    uri = ml_ledger_uri(settings)
    if open_table(uri, settings) is None:
        return LEDGER_SCHEMA.empty_table()
    table = read_table(uri, settings)
    return table if kind is None else table.filter(pa.compute.equal(table["kind"], kind))
