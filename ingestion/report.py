"""What one ingestion run did per entity, and the problems a person has to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingestion.snapshots import SnapshotChanges

MAX_RECORD_MESSAGES = 5


@dataclass
class EntityReport:
    entity: str
    batch_id: str
    raw_table: str
    files: list[str] = field(default_factory=list)
    expected_at: str = ""  # where the files were looked for (a folder/glob)
    rows_landed: int = 0
    rows_quarantined: int = 0
    skipped_already_loaded: bool = False  # committed by an earlier run: nothing landed now
    landed_by_earlier_attempt: bool = False  # committed by this run before a retry: rows_landed are its rows
    file_missing: bool = False
    file_errors: dict[str, str] = field(default_factory=dict)  # file name -> why it did not land at all
    quarantined_files: list[str] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    added_columns: dict[str, str] = field(default_factory=dict)  # undeclared columns that landed (drift)
    missing_optional: list[str] = field(default_factory=list)  # declared optional columns a file lacked
    record_problems: list[str] = field(default_factory=list)  # the first quarantined records, explained
    load: str = "append"  # the entity's load mode; a snapshot lands its changes (rows_landed counts them)
    snapshot: SnapshotChanges | None = None  # what a snapshot night landed
    out_of_order: str | None = None  # a snapshot older than raw's current one: refused, with what to do

    @property
    def file_error(self) -> str | None:
        """One line on the files that did not land, or None."""
        if self.file_missing:
            return f"missing: no landing file at {self.expected_at}"
        parts = [f"{name}: {error}" for name, error in self.file_errors.items()]
        parts += [f"{name}: empty (no records)" for name in self.empty_files]
        return "; ".join(parts) or None

    @property
    def has_problems(self) -> bool:
        return self.file_error is not None or self.rows_quarantined > 0 or self.out_of_order is not None

    @property
    def batch_open(self) -> bool:
        """Nothing was committed for this date: a (re)delivery of the files will land."""
        committed = self.skipped_already_loaded or self.landed_by_earlier_attempt
        return not committed and self.rows_landed == 0 and self.rows_quarantined == 0

    def problems(self, run_date: date, quarantine_table: str) -> list[str]:
        rerun = f"rerun ingestion for {run_date}"
        if self.out_of_order:
            return [self.out_of_order]
        if self.file_missing:
            return [
                f"{self.entity}: no landing file for {run_date} at {self.expected_at} — nothing was loaded "
                f"into {self.raw_table}; deliver the file there and {rerun}."
            ]
        messages = [
            f"{name}: could not be landed ({error}) — nothing from it landed; it was copied to "
            f"{self._copy_of(name)}. Fix or re-export the file, deliver it again and {rerun}."
            for name, error in self.file_errors.items()
        ]
        messages += [
            f"{name}: the file is empty or has only a header — nothing landed"
            + (f" and the {self.entity} batch of {run_date} stays open" if self.batch_open else "")
            + f"; deliver the corrected file and {rerun}."
            for name in self.empty_files
        ]
        messages += [
            f"{problem} — fix the source record and send it again in a later delivery "
            f"(the rest of the file landed; rerunning {run_date} does not reload it)."
            for problem in self.record_problems
        ]
        withheld = self.snapshot.deletions_withheld if self.snapshot else None
        if withheld:
            messages.append(
                f"{self.entity} (snapshot of {run_date}): {withheld}; the next complete snapshot infers them."
            )
        more = self.rows_quarantined - len(self.record_problems)
        if more > 0:
            messages.append(
                f"{self.entity}: {more} more quarantined records — see {quarantine_table} where "
                f"batch_id = '{self.batch_id}'."
            )
        return messages

    def _copy_of(self, name: str) -> str:
        return next((c for c in self.quarantined_files if c.endswith("/" + name)), "quarantine")

    def drift(self) -> list[str]:
        """Schema changes seen in this delivery (not problems: they landed, but somebody should know)."""
        notes = [f"new column {n} ({t}) added to {self.raw_table}" for n, t in self.added_columns.items()]
        notes += [f"optional column {n} missing from a file: landed as NULL" for n in self.missing_optional]
        return notes

    @property
    def note(self) -> str:
        if self.skipped_already_loaded:
            return "already loaded: skipped"
        if self.landed_by_earlier_attempt:
            return "landed by this run: a retry found the batch committed by its earlier attempt"
        snapshot = [self.snapshot.describe(), self.snapshot.deletions_withheld] if self.snapshot else []
        return "; ".join(filter(None, [self.out_of_order, self.file_error, *snapshot, *self.drift()]))

    def summary(self) -> str:
        if self.skipped_already_loaded:
            return f"{self.entity}: already loaded (batch {self.batch_id}), nothing to do"
        if self.file_missing:
            return f"{self.entity}: MISSING {self.expected_at}"
        text = f"{self.entity}: {self.rows_landed} rows landed, {self.rows_quarantined} quarantined"
        return text + (f" ({self.note})" if self.note else "")


@dataclass
class IngestReport:
    source: str
    run_date: date
    quarantine_table: str
    entities: dict[str, EntityReport] = field(default_factory=dict)
    fetch_error: str | None = None  # a pulled source (API, database) could not be fetched

    @classmethod
    def failed(cls, source: str, run_date: date, quarantine_table: str, error: str) -> IngestReport:
        """The report of a source that could not be landed at all (what landed before stays)."""
        return cls(source, run_date, quarantine_table, fetch_error=error)

    @property
    def has_problems(self) -> bool:
        return self.fetch_error is not None or any(e.has_problems for e in self.entities.values())

    @property
    def rows_landed(self) -> int:
        return sum(e.rows_landed for e in self.entities.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(e.rows_quarantined for e in self.entities.values())

    def problems(self) -> list[str]:
        """Human messages naming the file and what to fix; empty when the run was clean."""
        fetch = [f"{self.source}: {self.fetch_error}"] if self.fetch_error else []
        return fetch + [
            m for e in self.entities.values() for m in e.problems(self.run_date, self.quarantine_table)
        ]

    def summary(self) -> str:
        lines = [f"ingest {self.source} {self.run_date}:"]
        if self.fetch_error:
            lines.append(f"  FETCH FAILED: {self.fetch_error}")
        lines += [f"  {e.summary()}" for e in self.entities.values()]
        return "\n".join(lines)
