"""How long to wait before trying again: one doubling backoff for every retry loop."""

from __future__ import annotations


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Seconds before retry number ``attempt`` (1 = the first): ``base``, doubling with each retry,
    never more than ``cap``. The exponent stops at 60, long past any cap, so a count of failures
    that keeps growing (an outage of days) cannot overflow."""
    return min(base * 2.0 ** min(max(attempt - 1, 0), 60), cap)
