"""The run summary: what landed, what was built, what passed — as plain data, Markdown and terminal text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lakehouse.transform import DbtSummary


@dataclass
class TableLanding:
    entity: str
    rows_landed: int
    rows_quarantined: int
    already_loaded: bool
    file_error: str | None = None

    @property
    def note(self) -> str:
        return self.file_error or ("already loaded: skipped" if self.already_loaded else "")


def landings(entities: Iterable[Any]) -> list[TableLanding]:
    """TableLanding rows from ingestion's per-entity reports."""
    return [
        TableLanding(e.entity, e.rows_landed, e.rows_quarantined, e.skipped_already_loaded, e.file_error)
        for e in entities
    ]


@dataclass
class QualityCounts:
    layer: str
    passed: int = 0
    warned: int = 0
    failed: int = 0
    errored: int = 0

    @classmethod
    def from_outcomes(cls, layer: str, counts: Mapping[Any, int]) -> QualityCounts:
        return cls(
            layer,
            counts.get("passed", 0),
            counts.get("warned", 0),
            counts.get("failed", 0),
            counts.get("error", 0),
        )


@dataclass
class RunSummary:
    run_date: date
    lake_root: str
    catalog: str
    landed: list[TableLanding] = field(default_factory=list)
    dbt: DbtSummary | None = None
    quality: list[QualityCounts] = field(default_factory=list)
    feature_rows: int | None = None
    problems: list[str] = field(default_factory=list)
    stopped_at: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_markdown(self) -> str:
        lines = [f"# Lakehouse nightly run for {self.run_date.isoformat()}", ""]
        lines += [f"Lake: `{self.lake_root}` — catalog: `{self.catalog}`", ""]
        if self.landed:
            lines += ["## Landed (raw Delta tables)", "", "| table | rows landed | quarantined | note |"]
            lines += ["|---|---:|---:|---|"]
            for t in self.landed:
                lines.append(f"| raw/{t.entity} | {t.rows_landed} | {t.rows_quarantined} | {t.note} |")
            lines.append("")
        if self.dbt:
            d = self.dbt
            lines += [
                "## dbt",
                "",
                f"{d.models_built} models built; tests: {d.tests_passed} passed, {d.tests_warned} warned, "
                f"{d.tests_failed} failed; {d.unit_tests} unit tests",
                "",
            ]
        if self.quality:
            lines += [
                "## Soda contracts",
                "",
                "| layer | passed | warned | failed | errors |",
                "|---|---:|---:|---:|---:|",
            ]
            lines += [
                f"| {q.layer} | {q.passed} | {q.warned} | {q.failed} | {q.errored} |" for q in self.quality
            ]
            lines.append("")
        if self.feature_rows is not None:
            lines += [
                "## Features",
                "",
                f"{self.feature_rows} customer feature rows as of {self.run_date}",
                "",
            ]
        if self.problems:
            lines += ["## Problems", ""] + [f"- {p}" for p in self.problems]
        else:
            lines.append("Outcome: **succeeded**")
        return "\n".join(lines)
