"""Stage progress of a run, for whoever listens (the `lakehouse` command shows it; the flows only emit).

The nightly run's summary emits an event when a stage starts and when it ends (`RunSummary.timed`); a
listener registered with `listening` gets them in this process. Nothing listens in a deployment's run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class StageEvent:
    run_date: date
    stage: str  # e.g. ingest, raw_gate, dbt, marts_gate, publish, features, report
    seconds: float | None = None  # None: the stage started
    ok: bool = True  # False: the stage raised
    detail: str = ""  # counts, e.g. "5 tables  12,345 rows"

    @property
    def finished(self) -> bool:
        return self.seconds is not None

    @property
    def label(self) -> str:
        return self.stage.replace("_", " ")


Listener = Callable[[StageEvent], None]
_LISTENERS: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send this process's stage events to `listener` inside the block."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


def emit(event: StageEvent) -> None:
    """Tell the listeners; a listener that fails never fails the run."""
    for listener in list(_LISTENERS):
        with suppress(Exception):  # a progress display only
            listener(event)
