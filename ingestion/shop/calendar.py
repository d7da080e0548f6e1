"""Day arithmetic and seeding shared by the demo shop generator.

Every random draw is a pure function of (seed, day index, stream): `day_rng` seeds numpy from those three
numbers, so rerunning any day reproduces it exactly without keeping state. Day indexes count days since
EPOCH (negative before it). Timestamps are int64 microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from ingestion.types import UTC_TS

EPOCH = date(2024, 1, 1)
DAY_US = 86_400 * 1_000_000
SECOND_US = 1_000_000
EPOCH_UNIX_DAYS = (EPOCH - date(1970, 1, 1)).days
EPOCH_US = EPOCH_UNIX_DAYS * DAY_US
# numpy seeds must be non-negative: day indexes are shifted by this offset before seeding.
DAY_SEED_OFFSET = 1_000_000
# The fixed populations (customers, products) are not tied to a day: they use this pseudo day.
POPULATION_DAY = -DAY_SEED_OFFSET


def day_index(day: date) -> int:
    """Days since EPOCH (2024-01-01)."""
    return (day - EPOCH).days


def day_rng(seed: int, day: int, stream: int) -> np.random.Generator:
    """The random generator of one stream on one day; independent of every other (day, stream)."""
    return np.random.default_rng([seed, day + DAY_SEED_OFFSET, stream])


def day_start_us(day: int | np.ndarray) -> np.ndarray:
    """Microsecond timestamp of midnight UTC starting `day` (day index)."""
    return EPOCH_US + np.asarray(day, dtype=np.int64) * DAY_US


def ts_array(us: np.ndarray) -> pa.Array:
    """Arrow timestamp[us, UTC] from int64 microseconds since the Unix epoch."""
    return pa.array(np.asarray(us, dtype=np.int64), type=UTC_TS)


def date_array(day: np.ndarray) -> pa.Array:
    """Arrow date32 from day indexes."""
    return pa.array((np.asarray(day, dtype=np.int64) + EPOCH_UNIX_DAYS).astype(np.int32), type=pa.date32())


def scaled_count(base: float, scale: float) -> int:
    """A population size proportional to `scale`, at least 1."""
    return max(1, round(base * scale))
