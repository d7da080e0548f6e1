"""The results of a quality scan: one row per verified check, and what blocks the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Layer = Literal["raw", "marts", "all"]
Outcome = Literal["passed", "warned", "failed", "error"]
Level = Literal["blocking", "warn"]

# What to do about a failed check, by check type.
FIX_HINTS: dict[str, str] = {
    "schema": "columns or types differ from the contract: fix the producer or update the contract",
    "row_count": "the table is empty: check that the pipeline stage that writes it ran for this date",
    "duplicate": "duplicate keys: list them with GROUP BY <key columns> HAVING count(*) > 1, fix the source",
    "missing": "rows with a NULL value: find them with WHERE <column> IS NULL and fix the producer",
    "invalid": "values outside the contract's valid values/range: inspect them and fix the producer",
    "freshness": "the newest row is older than the run date allows: check that the day's batch was ingested",
    "failed_rows": "rows break the contract's rule: query the rule's expression to list them",
    "contract": "the contract could not be verified: read the error, check the table exists and the YAML",
}


@dataclass(frozen=True)
class CheckRow:
    """One check of one contract, as verified for a run date."""

    layer: str  # raw | marts
    contract: str  # contract file relative to quality/contracts, e.g. raw/shop/orders.yml
    dataset: str  # the table the contract is about, e.g. raw_shop.orders or fct_orders
    check: str  # the check's path in the contract, e.g. columns.order_id.checks.missing
    check_type: str
    column: str | None
    name: str
    outcome: Outcome
    level: Level
    value: float | None = None  # the measured value the threshold was applied to, if any
    threshold: str | None = None
    detail: str | None = None  # error text for outcome 'error'

    @property
    def is_blocking_failure(self) -> bool:
        return self.outcome == "error" or (self.outcome == "failed" and self.level == "blocking")

    def message(self) -> str:
        where = f" on column {self.column}" if self.column else ""
        measured = f", measured {self.value:g}" if self.value is not None else ""
        expected = f" (expected {self.threshold})" if self.threshold else ""
        detail = f": {self.detail}" if self.detail else ""
        hint = FIX_HINTS.get(self.check_type, FIX_HINTS["contract"])
        return (
            f"{self.dataset}: check '{self.name}' [{self.check}]{where} {self.outcome}{measured}{expected}"
            f"{detail} (quality/contracts/{self.contract}). To fix: {hint}."
        )


@dataclass(frozen=True)
class ScanReport:
    run_date: date
    layer: Layer
    results: list[CheckRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<contract>: <why it did not run>"

    @property
    def blocking_failures(self) -> list[CheckRow]:
        return [r for r in self.results if r.is_blocking_failure]

    @property
    def warnings(self) -> list[CheckRow]:
        return [r for r in self.results if r.outcome == "warned"]

    @property
    def passed(self) -> bool:
        return not self.blocking_failures

    def failure_messages(self) -> list[str]:
        """One message per blocking failure naming the dataset, the check and what to fix."""
        return [r.message() for r in self.blocking_failures]

    def outcome_counts(self) -> dict[Outcome, int]:
        counts: dict[Outcome, int] = {"passed": 0, "warned": 0, "failed": 0, "error": 0}
        for r in self.results:
            counts[r.outcome] += 1
        return counts

    def count_by_contract(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.contract] = counts.get(r.contract, 0) + 1
        return counts
