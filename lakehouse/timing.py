"""Wall-clock timing of named steps (the run summary's stages, the benchmark floor's stages)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def timed_into(seconds: dict[str, float], step: str) -> Iterator[None]:
    """Record the wall seconds of the block as `seconds[step]` (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[step] = round(time.perf_counter() - started, 3)
