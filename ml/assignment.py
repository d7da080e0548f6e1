"""A/B assignment: a deterministic hash split of customers between the champion and the challenger.

A customer's bucket in [0, 1) is a 64-bit mix of its id salted with the experiment's key (the two model
versions), so the same customer stays in the same arm for an experiment's whole life and every process and
rerun computes the same split, vectorised (no Python loop over customers).
"""

from __future__ import annotations

import hashlib

import numpy as np

CHAMPION_ARM = "champion"
CHALLENGER_ARM = "challenger"


def experiment_key(model: str, champion: str, challenger: str | None) -> str | None:
    """The A/B experiment's name (None: no challenger, no experiment)."""
    return None if challenger is None else f"{model}:v{champion}-vs-v{challenger}"


def buckets(customer_ids: np.ndarray, key: str) -> np.ndarray:
    """A uniform number in [0, 1) per customer, fixed by (`key`, customer id): splitmix64 of id ^ salt."""
    salt = np.uint64(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))
    with np.errstate(over="ignore"):
        z = customer_ids.astype(np.uint64) ^ salt
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def challenger_mask(customer_ids: np.ndarray, key: str | None, share: float) -> np.ndarray:
    """True for the customers the challenger scores: a `share` of them, by bucket."""
    if key is None or share <= 0:
        return np.zeros(len(customer_ids), dtype=bool)
    return buckets(customer_ids, key) < share
