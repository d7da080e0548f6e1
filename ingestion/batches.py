"""Landing batches: their ids, the delivery of a batch that lands next, and retracting a committed batch.

A batch is one entity's data of one date, `<source>/<entity>/<YYYY-MM-DD>` (the `_batch_id` of its rows).
It lands in one raw commit carrying a Delta application transaction, the batch's *app id*, which makes
reruns append nothing. A retraction deletes the batch's rows in a commit that also records the application
transaction `retract/<batch id>` with version n (the n-th retraction of that batch); the app id of the
delivery after it is `<batch id>/redelivery-<n>`. The count lives in the raw table's own log, written in
the same commit as the delete, so the loader needs no other state: it asks the table which delivery is
next (`delivery_app_id`), lands it once, and a rerun after that appends nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from ingestion.snapshots import (
    CURRENT_APP_ID,
    SnapshotOrderError,
    before_app_id,
    version_date,
)
from lakehouse.lake import app_transaction_version, duckdb_session, open_table, retract_rows
from lakehouse.layout import quarantine_records, raw_table
from lakehouse.settings import Settings, get_settings
from lakehouse.wap import request_full_refresh

RETRACTION_PREFIX = "retract/"
REDELIVERY_SUFFIX = "/redelivery-"


def batch_id(source: str, entity: str, run_date: date) -> str:
    """The id of one entity's batch of one date: the `_batch_id` of its raw rows."""
    return f"{source}/{entity}/{run_date.isoformat()}"


def retraction_app_id(batch: str) -> str:
    return RETRACTION_PREFIX + batch


def app_id(batch: str, retractions: int) -> str:
    """The app id of the delivery that follows `retractions` retractions (the first one is the batch id)."""
    return batch if retractions == 0 else f"{batch}{REDELIVERY_SUFFIX}{retractions}"


def retractions(uri: str, batch: str, settings: Settings | None = None) -> int:
    """How often `batch` was retracted from the raw table at `uri` (0 when never, or no table yet)."""
    return app_transaction_version(uri, retraction_app_id(batch), settings) or 0


def delivery_app_id(uri: str, batch: str, settings: Settings | None = None) -> str:
    """The app id under which `batch` lands (or landed) now in the raw table at `uri`."""
    return app_id(batch, retractions(uri, batch, settings))


def newest_batch_date(tables: list[tuple[str, str]], settings: Settings | None = None) -> date | None:
    """The date of the newest batch in the raw tables `(source, entity)` (None when they hold none): a
    batch's `_ingested_at` is midnight UTC after its date (ingestion/loader.py); read from file stats."""
    settings = settings or get_settings()
    uris = [raw_table(s, e, settings) for s, e in tables if open_table(raw_table(s, e, settings), settings)]
    if not uris:
        return None
    scans = " UNION ALL ".join(f"SELECT max(_ingested_at) AS t FROM delta_scan('{u}')" for u in uris)
    with duckdb_session(settings=settings) as con:
        con.execute("SET TimeZone = 'UTC'")
        found = con.execute(f"SELECT max(t) FROM ({scans})").fetchone()
    newest = None if not found or found[0] is None else found[0]
    return None if newest is None else newest.date() - timedelta(days=1)


def batch_committed(uri: str, batch: str, settings: Settings | None = None) -> bool:
    """True when the current delivery of `batch` is committed (not retracted since)."""
    return app_transaction_version(uri, delivery_app_id(uri, batch, settings), settings) is not None


@dataclass
class Retracted:
    """One entity's retracted batch."""

    entity: str
    batch_id: str
    raw_table: str
    rows: int  # raw rows removed
    quarantined: int  # quarantine records of the batch removed
    retracted_app_id: str
    next_app_id: str  # the app id a corrected redelivery lands under


@dataclass
class RetractReport:
    source: str
    run_date: date
    reason: str
    retracted: list[Retracted] = field(default_factory=list)
    not_committed: list[str] = field(default_factory=list)  # entities with no committed batch of the date
    kept: dict[str, str] = field(default_factory=dict)  # snapshot batches a later snapshot depends on: why


def retraction_metadata(batch: str, retracted_app: str, next_app: str, reason: str) -> dict[str, str]:
    """The commit metadata of a retraction (shown by `DeltaTable(uri).history()`)."""
    return {
        "lakehouse.operation": "retraction",
        "lakehouse.batch_id": batch,
        "lakehouse.retracted_app_id": retracted_app,
        "lakehouse.next_app_id": next_app,
        "lakehouse.reason": reason,
    }


def snapshot_reset(uri: str, batch: str, run_date: date, settings: Settings) -> list[tuple[str, int]]:
    """For a snapshot batch (ingestion/snapshots.py): the application transaction that sets the table's
    current snapshot back to the one before it. Only the current snapshot may be retracted: a later one
    was diffed against it. Nothing for an append batch."""
    before = app_transaction_version(uri, before_app_id(batch), settings)
    if before is None:
        return []
    current = version_date(app_transaction_version(uri, CURRENT_APP_ID, settings))
    if current != run_date:
        source, entity = batch.split("/")[:2]
        raise SnapshotOrderError(
            f"{batch} is a snapshot batch and {uri} already reflects the later snapshot of {current}, whose "
            f"changes were computed against it: retract the later dates first, newest first (`lakehouse "
            f"batch retract --source {source} --entity {entity} --date {current}`, …), then this one; "
            "then run the dates again in order."
        )
    return [(CURRENT_APP_ID, before)]


def check_retractable(source: str, entity: str, run_date: date, settings: Settings) -> None:
    """Raise SnapshotOrderError when the batch is a snapshot batch older than the table's current one."""
    uri, batch = raw_table(source, entity, settings), batch_id(source, entity, run_date)
    if open_table(uri, settings) is not None and batch_committed(uri, batch, settings):
        snapshot_reset(uri, batch, run_date, settings)


def retract_entity(
    source: str, entity: str, run_date: date, reason: str, settings: Settings
) -> Retracted | None:
    """Remove one entity's committed batch of `run_date` and reopen it; None when none is committed.

    The quarantine records of the batch go first, the raw rows last: the raw commit is what reopens the
    batch, so a failure in between leaves the batch committed and the command can be run again.
    """
    uri, batch = raw_table(source, entity, settings), batch_id(source, entity, run_date)
    if open_table(uri, settings) is None or not batch_committed(uri, batch, settings):
        return None
    reset = snapshot_reset(uri, batch, run_date, settings)
    done = retractions(uri, batch, settings)
    current, following = app_id(batch, done), app_id(batch, done + 1)
    metadata = retraction_metadata(batch, current, following, reason)
    quarantine = quarantine_records(source, settings)
    quarantined = 0
    if open_table(quarantine, settings) is not None:
        quarantined = retract_rows(quarantine, f"batch_id = '{batch}'", metadata, settings)
    txns = [(retraction_app_id(batch), done + 1), *reset]
    rows = retract_rows(uri, f"_batch_id = '{batch}'", metadata, settings, txns)
    return Retracted(entity, batch, uri, rows, quarantined, current, following)


def retract_batch(
    source: str,
    entities: list[str],
    run_date: date,
    reason: str,
    settings: Settings | None = None,
    keep_earlier_snapshots: bool = False,
) -> RetractReport:
    """Retract the committed batches of `run_date` of these entities of `source` (see retract_entity).

    A snapshot batch that a later snapshot was diffed against cannot be retracted alone: by default
    SnapshotOrderError is raised before anything is retracted; with `keep_earlier_snapshots` (a whole
    date's retraction) such batches stay and are listed in `kept`, and the other entities are retracted.
    A retraction asks the next `lakehouse run` to rebuild the marts in full (lakehouse.wap)."""
    settings = settings or get_settings()
    report = RetractReport(source, run_date, reason)
    for entity in entities:
        try:
            check_retractable(source, entity, run_date, settings)
        except SnapshotOrderError as refused:
            if not keep_earlier_snapshots:
                raise
            report.kept[entity] = str(refused)
    for entity in (e for e in entities if e not in report.kept):
        done = retract_entity(source, entity, run_date, reason, settings)
        if done is None:
            report.not_committed.append(entity)
        else:
            report.retracted.append(done)
    if report.retracted:  # a redelivery keeps its batch id: the marts' batch watermarks would not see it
        entities_done = ", ".join(r.entity for r in report.retracted)
        request_full_refresh(f"batch {source}/{run_date} retracted ({entities_done}): {reason}", settings)
    return report
