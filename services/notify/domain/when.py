"""A date or a time a CSM types: ``2027-01-10`` (at a given time of that day, UTC) or an ISO time
with its zone. The task and activity forms both take either."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def parse_when(value: str, *, time_of_day: time) -> datetime:
    """ValueError (with the message to show) when it is neither, or a time without its zone."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time_of_day, tzinfo=UTC)
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not a date (2027-01-10) or a time (2027-01-10T09:00Z)") from None
    if at.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2027-01-10T09:00Z) or a date alone")
    return at
