"""The clock port. Every "now" in Touchline comes from here.

``SystemClock`` is the wall clock. ``SimulatedClock`` only moves when the clock topic says
so (``touchline clock set|advance``); all services read the same single-partition topic,
so they agree on the time. Timer loops wait on :meth:`Clock.changed` to wake when time moves.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    @property
    def known(self) -> bool:
        """False while a simulated clock has not heard its first time yet."""
        ...

    def now(self) -> datetime: ...

    async def changed(self, timeout: float) -> None:
        """Return when time moved, or after ``timeout`` seconds, whichever is first."""
        ...


class SystemClock:
    known = True

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def changed(self, timeout: float) -> None:
        await asyncio.sleep(timeout)


class SimulatedClock:
    """Holds the latest simulated time; fed by the clock topic reader (or set by tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start
        self._seq = -1
        self._moved = asyncio.Event()

    @property
    def known(self) -> bool:
        return self._now is not None

    def now(self) -> datetime:
        # Before the first clock message arrives, fall back to the wall clock.
        return self._now if self._now is not None else datetime.now(UTC)

    def set(self, now: datetime, seq: int | None = None) -> None:
        if seq is not None:
            if seq <= self._seq:
                return
            self._seq = seq
        self._now = now.astimezone(UTC)
        self._moved.set()

    async def changed(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._moved.wait(), timeout)
        except TimeoutError:
            return
        finally:
            self._moved.clear()


_DURATION = re.compile(r"^(?P<n>-?\d+(?:\.\d+)?)(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m', '2w', '45s' -> timedelta."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"duration {text!r}: expected a number and one of s, m, h, d, w (e.g. 30d)")
    return timedelta(**{_UNITS[m["unit"]]: float(m["n"])})


def parse_instant(text: str) -> datetime:
    """ISO-8601 instant; a trailing Z is accepted and a naive time is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
