"""The logical run date as a person types it (`--date`): strictly YYYY-MM-DD, or a message saying why not."""

from __future__ import annotations

import re
from datetime import date

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EXAMPLE = "2026-11-20"


def parse_run_date(text: str, option: str = "--date") -> date:
    """`text` as a date, or ValueError naming `option`, the value and the expected form (an empty value is
    an error, not "today": leave the option out for that)."""
    value = text.strip()
    if not value:
        raise ValueError(
            f"{option} is empty: give a date as YYYY-MM-DD (e.g. {EXAMPLE}) or leave {option} out"
        )
    if not ISO_DATE.fullmatch(value):
        raise ValueError(f"{option} {text!r} is not a date: give it as YYYY-MM-DD, e.g. {EXAMPLE}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"{option} {text!r} is not a date ({exc}): give it as YYYY-MM-DD, e.g. {EXAMPLE}"
        ) from None
