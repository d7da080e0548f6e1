"""What one ingestion run did per entity, and the problems a person has to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

MAX_RECORD_MESSAGES = 5


@dataclass
class EntityReport:
    entity: str
    source_file: str
    batch_id: str
    rows_landed: int = 0
    rows_quarantined: int = 0
    skipped_already_loaded: bool = False
    file_missing: bool = False
    file_error: str | None = None  # why the file did not land at all (also set, "missing: ...", when missing)
    quarantined_file: str | None = None
    record_problems: list[str] = field(default_factory=list)  # the first quarantined records, explained

    @property
    def file_name(self) -> str:
        return self.source_file.rsplit("/", 1)[-1]

    @property
    def has_problems(self) -> bool:
        return self.file_error is not None or self.rows_quarantined > 0

    def problems(self, run_date: date, quarantine_table: str) -> list[str]:
        if self.file_missing:
            return [
                f"{self.file_name}: no landing file for {run_date} at {self.source_file} — nothing was "
                f"loaded into raw {self.entity}; land the file there and rerun ingestion for {run_date}."
            ]
        if self.file_error is not None:
            return [
                f"{self.file_name}: could not be read ({self.file_error}) — nothing from it landed; it was "
                f"copied to {self.quarantined_file}. Fix or re-export {self.source_file} and rerun ingestion "
                f"for {run_date}."
            ]
        messages = [
            f"{self.file_name} {problem} — fix the source record and send it again in a later landing file "
            f"(the rest of the file landed; rerunning {run_date} does not reload it)."
            for problem in self.record_problems
        ]
        more = self.rows_quarantined - len(self.record_problems)
        if more > 0:
            messages.append(
                f"{self.file_name}: {more} more quarantined records — see {quarantine_table} where "
                f"batch_id = '{self.batch_id}'."
            )
        return messages

    def summary(self) -> str:
        if self.skipped_already_loaded:
            return f"{self.entity}: already loaded (batch {self.batch_id}), nothing to do"
        if self.file_missing:
            return f"{self.entity}: MISSING {self.source_file}"
        if self.file_error is not None:
            return f"{self.entity}: FILE QUARANTINED ({self.file_error})"
        return f"{self.entity}: {self.rows_landed} rows landed, {self.rows_quarantined} quarantined"


@dataclass
class IngestReport:
    source: str
    run_date: date
    quarantine_table: str
    entities: dict[str, EntityReport] = field(default_factory=dict)

    @property
    def has_problems(self) -> bool:
        return any(e.has_problems for e in self.entities.values())

    @property
    def rows_landed(self) -> int:
        return sum(e.rows_landed for e in self.entities.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(e.rows_quarantined for e in self.entities.values())

    def problems(self) -> list[str]:
        """Human messages naming the file and what to fix; empty when the run was clean."""
        return [m for e in self.entities.values() for m in e.problems(self.run_date, self.quarantine_table)]

    def summary(self) -> str:
        lines = [f"ingest {self.source} {self.run_date}:"]
        lines += [f"  {e.summary()}" for e in self.entities.values()]
        return "\n".join(lines)
