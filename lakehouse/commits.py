"""When a batch was committed: tells a retry that finds its batch committed whether this run committed it.

A Prefect task that lands a batch can fail after the batch's commit (a later entity's write, the network) and
be retried; the retry finds the batch committed. Whether that commit is this run's (an earlier attempt) or an
earlier run's (a rerun of the date) is read from the Delta log: the commit timestamps, written by this
machine's clock, against the moment the run started on the same clock.
"""

from __future__ import annotations

from datetime import datetime

from deltalake import DeltaTable

from lakehouse.lake import open_table
from lakehouse.settings import Settings, get_settings

# A retry comes minutes after its first attempt: its batch's commit is among the table's latest commits.
# Older commits are not searched, so a batch committed before more than this many later commits of the same
# table within the run counts as an earlier run's (reported as "already loaded", never double-counted).
RECENT_COMMITS = 20


def committed_since(uri: str, app_id: str, since: datetime, settings: Settings | None = None) -> bool:
    """True when the commit carrying the application transaction `app_id` was made at or after `since`."""
    settings = settings or get_settings()
    table = open_table(uri, settings)
    if table is None or table.transaction_version(app_id) is None:
        return False
    since_ms = since.timestamp() * 1000
    recent = [c["version"] for c in table.history(RECENT_COMMITS) if c["timestamp"] >= since_ms]
    if not recent:
        return False
    first = min(recent)  # the batch is committed now: was it already before `first`?
    if first == 0:
        return True
    before = DeltaTable(uri, version=first - 1, storage_options=settings.storage_options())
    return before.transaction_version(app_id) is None
