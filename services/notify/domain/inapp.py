"""Which in-app messages a user may see now: expiry, closed messages and the global frequency cap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Kind = Literal["popup", "announcement", "survey"]
EventType = Literal["seen", "dismissed", "clicked", "answered"]
# Popups and surveys interrupt the user, so they count against the cap; an announcement waits in a list.
INTERRUPTING: tuple[str, ...] = ("popup", "survey")


@dataclass(frozen=True)
class InboxItem:
    id: str
    kind: str
    created_at: datetime
    expires_at: datetime | None
    shown_at: datetime | None
    closed: bool  # dismissed or answered


@dataclass(frozen=True)
class Eligibility:
    show: list[str]  # ids to hand to the widget, oldest first
    newly_shown: list[str]  # of those, the ones shown for the first time (count against the cap)


def eligible(items: Sequence[InboxItem], *, now: datetime, cap_count: int, cap_window: timedelta) -> Eligibility:
    """Open, unexpired messages; new interrupting ones only while the user is under the cap.

    Already shown messages stay visible until closed (a reload must not make a popup vanish),
    so only first showings are capped.
    """
    live = sorted(
        (i for i in items if not i.closed and (i.expires_at is None or i.expires_at > now)),
        key=lambda i: (i.created_at, i.id),
    )
    recent = sum(
        1 for i in items if i.kind in INTERRUPTING and i.shown_at is not None and now - i.shown_at < cap_window
    )
    room = max(cap_count - recent, 0)
    show: list[str] = []
    newly: list[str] = []
    for item in live:
        if item.shown_at is not None:
            show.append(item.id)
        elif item.kind not in INTERRUPTING:
            show.append(item.id)
            newly.append(item.id)
        elif room > 0:
            room -= 1
            show.append(item.id)
            newly.append(item.id)
    return Eligibility(show=show, newly_shown=newly)


def outcome_kind(event: EventType) -> str:
    return f"inapp.{event}"
