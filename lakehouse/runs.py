"""The lake's record of its runs: the nightly run summaries under ops/runs/<date>/<run id>.json.

`lakehouse backfill` decides from them which dates are complete (their latest run succeeded) and
`lakehouse status` lists the last runs. A summary is written at the end of every run, failed or not
(orchestration/flows/nightly.py); a run killed before its end left none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from lakehouse.files import list_files, read_text
from lakehouse.layout import run_summaries_dir
from lakehouse.settings import Settings, get_settings


@dataclass(frozen=True)
class RunRecord:
    run_date: date
    run_id: str  # sortable: its UTC start time first (lakehouse.wap.new_run_id)
    ok: bool
    started_at: datetime | None
    seconds: float | None
    stopped_at: str | None = None
    problems: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return "succeeded" if self.ok else "failed"


def _record(text: str) -> RunRecord:
    data = json.loads(text)
    started = data.get("started_at")
    return RunRecord(
        run_date=date.fromisoformat(data["run_date"]),
        run_id=str(data.get("run_id") or ""),
        ok=bool(data.get("ok")),
        started_at=datetime.fromisoformat(started) if started else None,
        seconds=data.get("seconds"),
        stopped_at=data.get("stopped_at"),
        problems=list(data.get("problems") or []),
        stage_seconds=dict(data.get("stage_seconds") or {}),
    )


def run_records(settings: Settings | None = None) -> list[RunRecord]:
    """Every run summary in the lake, oldest run first (an unreadable summary is skipped)."""
    settings = settings or get_settings()
    records = []
    for uri in list_files(run_summaries_dir(settings), settings, recursive=True):
        name = uri.rsplit("/", 1)[-1]
        if name.startswith(".") or not name.endswith(".json"):
            continue  # a summary being written (lakehouse.files.write_text)
        try:
            records.append(_record(read_text(uri, settings) or ""))
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(records, key=lambda r: (r.started_at.isoformat() if r.started_at else "", r.run_id))


def latest_per_date(records: list[RunRecord]) -> dict[date, RunRecord]:
    """The latest run of each date."""
    return {r.run_date: r for r in records}  # records are oldest first: the latest one wins


def completed_dates(settings: Settings | None = None) -> set[date]:
    """The dates whose latest run succeeded (a backfill skips them)."""
    return {day for day, record in latest_per_date(run_records(settings)).items() if record.ok}
