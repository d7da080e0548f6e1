"""The run summary: what landed, was built and passed — as plain data and Markdown (the CLI prints it)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ingestion.report import IngestReport
from lakehouse.timing import timed_into
from lakehouse.transform import DbtSummary
from orchestration.progress import StageEvent, emit


@dataclass
class TableLanding:
    source: str
    entity: str
    rows_landed: int
    rows_quarantined: int
    already_loaded: bool
    note: str = ""
    drift: list[str] = field(default_factory=list)

    @property
    def table(self) -> str:
        return f"raw/{self.source}/{self.entity}"


def landings(reports: Iterable[IngestReport]) -> list[TableLanding]:
    """TableLanding rows from ingestion's reports (one row per entity; one for a source that failed)."""
    rows = []
    for report in reports:
        if report.fetch_error and not report.entities:
            rows.append(TableLanding(report.source, "*", 0, 0, False, f"FAILED: {report.fetch_error}"))
        for e in report.entities.values():
            rows.append(
                TableLanding(
                    report.source,
                    e.entity,
                    e.rows_landed,
                    e.rows_quarantined,
                    e.skipped_already_loaded,
                    e.note,
                    e.drift(),
                )
            )
    return rows


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
    failed_checks: list[str] = field(default_factory=list)  # blocking quality checks that failed (a gate)
    stopped_at: str | None = None
    published: dict[str, int] = field(default_factory=dict)  # mart -> the Delta version now published
    publish_seconds: float | None = None  # commits + catalog pins + clean-up
    withheld_run: str | None = None  # the write-audit-publish run whose candidates were withheld
    recovered: dict[str, int] = field(default_factory=dict)  # marts a killed run's publish completed
    marts_skipped: str | None = None  # why a rerun of an earlier date did not rebuild the marts
    quality_report: str | None = None  # the HTML quality report written for the run
    run_id: str | None = None  # the run's id (its write-audit-publish run once dbt has started)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds, in run order
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float | None = None  # wall seconds of the whole flow, once its summary is written
    alerts: list[str] = field(default_factory=list)  # where the run's alert went (receivers redacted)
    monitor: list[str] = field(
        default_factory=list
    )  # the monitor's findings (freshness, volume, drift, speed)

    def timed(self, stage: str) -> AbstractContextManager[None]:
        """Record the wall seconds of the block as `stage` (also when it raises) and tell the progress
        listeners (orchestration/progress.py) when it starts and ends, with the stage's counts."""
        return self._timed(stage)

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        emit(StageEvent(self.run_date, stage))
        ok = False
        try:
            with timed_into(self.stage_seconds, stage):
                yield
            ok = True
        finally:
            seconds = self.stage_seconds.get(stage, 0.0)
            emit(StageEvent(self.run_date, stage, seconds, ok, self.stage_detail(stage) if ok else ""))

    def stage_detail(self, stage: str) -> str:
        """The counts of a finished stage, for a progress line (empty when there are none)."""
        if stage == "ingest":
            rows = sum(t.rows_landed for t in self.landed)
            quarantined = sum(t.rows_quarantined for t in self.landed)
            text = f"{len(self.landed)} tables  {rows:,} rows"
            return text + (f"  {quarantined:,} quarantined" if quarantined else "")
        if stage.endswith("_gate") and self.quality and self.quality[-1].layer == stage.removesuffix("_gate"):
            q = self.quality[-1]
            return f"{q.passed} passed  {q.warned} warned  {q.failed} failed" + (
                f"  {q.errored} errors" if q.errored else ""
            )
        if stage == "dbt" and self.dbt:
            d = self.dbt
            return f"{d.models_built} models  {d.tests_passed} tests passed  {d.tests_failed} failed"
        if stage == "publish":
            return f"{len(self.published)} marts published"
        if stage == "features" and self.feature_rows is not None:
            return f"{self.feature_rows:,} customers"
        return ""

    def to_json(self) -> str:
        """The summary as JSON (dates as ISO strings); failing-row samples stay in the nodes' `sample`."""
        if self.seconds is None:
            self.seconds = round((datetime.now(UTC) - self.started_at).total_seconds(), 3)
        data = asdict(self)
        if data["dbt"]:
            data["dbt"].pop("samples")
        data["ok"] = self.ok
        return json.dumps(data, default=str, indent=2)

    @property
    def ok(self) -> bool:
        return not self.problems

    def drift(self) -> list[str]:
        return [f"{t.table}: {d}" for t in self.landed for d in t.drift]

    def publication(self) -> list[str]:
        """What readers see after this run: published versions, or the withheld candidates."""
        lines = []
        if self.recovered:
            done = ", ".join(f"{m} v{v}" for m, v in sorted(self.recovered.items()))
            lines.append(f"completed an interrupted publish: {done}")
        if self.published:
            versions = ", ".join(f"{m} v{v}" for m, v in sorted(self.published.items()))
            took = f" in {self.publish_seconds:.2f} s" if self.publish_seconds is not None else ""
            lines.append(f"published {versions}{took}")
        if self.marts_skipped:
            lines.append(self.marts_skipped)
        if self.withheld_run:
            lines.append(
                f"WITHHELD the marts of run {self.withheld_run}: readers keep the last good versions; "
                "see `lakehouse quality inspect`"
            )
        return lines

    def _publication_markdown(self) -> list[str]:
        lines = self.publication()
        return ["## Publication", "", *[f"- {line}" for line in lines], ""] if lines else []

    def to_markdown(self) -> str:
        lines = [f"# Lakehouse nightly run for {self.run_date.isoformat()}", ""]
        lines += [f"Lake: `{self.lake_root}` — catalog: `{self.catalog}`", ""]
        if self.landed:
            lines += ["## Landed (raw Delta tables)", "", "| table | rows landed | quarantined | note |"]
            lines += ["|---|---:|---:|---|"]
            for t in self.landed:
                lines.append(f"| {t.table} | {t.rows_landed} | {t.rows_quarantined} | {t.note} |")
            lines.append("")
        drift = self.drift()
        if drift:
            lines += ["## Schema drift", "", *[f"- {d}" for d in drift], ""]
        if self.dbt:
            d = self.dbt
            lines += [
                "## dbt",
                "",
                f"{d.models_built} models built; tests: {d.tests_passed} passed, {d.tests_warned} warned, "
                f"{d.tests_failed} failed; {d.unit_tests} unit tests",
                "",
            ]
            if d.skipped_sources:
                skipped = ", ".join(d.skipped_sources)
                lines += [f"Skipped (no raw Delta table yet, with the models reading it): {skipped}", ""]
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
        lines += self._publication_markdown()
        if self.feature_rows is not None:
            lines += [
                "## Features",
                "",
                f"{self.feature_rows} customer feature rows as of {self.run_date}",
                "",
            ]
        if self.quality_report:
            lines += [f"Quality report: `{self.quality_report}`", ""]
        if self.monitor:
            lines += ["## Monitor", "", *[f"- {m}" for m in self.monitor], ""]
        if self.alerts:
            lines += ["## Alerts", "", *[f"- {a}" for a in self.alerts], ""]
        if self.problems:
            lines += ["## Problems", ""] + [f"- {p}" for p in self.problems]
        else:
            lines.append("Outcome: **succeeded**")
        return "\n".join(lines)
