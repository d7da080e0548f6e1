"""Small helpers shared by the flows (no pipeline logic lives here)."""

from __future__ import annotations

from datetime import UTC, date, datetime


def resolve_run_date(run_date: date | str | None) -> date:
    """The logical date: the given one, else the scheduled start of this flow run (so a late or retried
    scheduled run still processes its own night), else today in UTC."""
    if isinstance(run_date, str):
        return date.fromisoformat(run_date)
    if run_date is not None:
        return run_date
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    if scheduled is not None:
        return datetime.fromisoformat(str(scheduled)).astimezone(UTC).date()
    return datetime.now(UTC).date()
