"""Milestones: a release or a training, reported by the product as a Segment ``track`` event or added
by a CSM, and how NPS moved around it.

A ``track`` named "Release Published" is a product-wide milestone (every account got the release,
whichever user's account reported it); "Training Completed" is the reporting account's. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

KINDS = ("release", "training")
EVENTS = {"Release Published": "release", "Training Completed": "training"}
WINDOW = timedelta(days=30)  # NPS is compared over this many days before and after a milestone


@dataclass(frozen=True)
class Milestone:
    id: str
    kind: str  # release | training
    title: str
    occurred_at: datetime
    account_id: str | None  # None: product-wide (a release)
    source: str  # "event" | "csm"
    created_by: str | None = None


def from_event(
    *, message_id: str, event: str | None, account_id: str, properties: Mapping[str, Any], occurred_at: datetime
) -> Milestone | None:
    """The milestone a tracked event reports, or None when the event is no milestone."""
    kind = EVENTS.get(event or "")
    if kind is None:
        return None
    title = str(properties.get("title") or properties.get("name") or properties.get("version") or event)[:200]
    return Milestone(
        id=f"evt:{message_id}",
        kind=kind,
        title=title,
        occurred_at=occurred_at,
        account_id=None if kind == "release" else account_id,
        source="event",
    )


@dataclass(frozen=True)
class Score:
    account_id: str
    at: datetime
    score: int  # NPS 0..10


@dataclass(frozen=True)
class Around:
    """NPS in the window before a milestone and in the window after it (latest answer per account)."""

    before: float | None
    after: float | None
    answers_before: int
    answers_after: int

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


def _nps(scores: list[Score]) -> tuple[float | None, int]:
    latest: dict[str, Score] = {}
    for s in sorted(scores, key=lambda s: s.at):
        latest[s.account_id] = s
    if not latest:
        return None, 0
    values = [s.score for s in latest.values()]
    promoters = sum(1 for v in values if v >= 9)
    detractors = sum(1 for v in values if v <= 6)
    return 100.0 * (promoters - detractors) / len(values), len(values)


def around(milestone: Milestone, scores: Iterable[Score], *, window: timedelta = WINDOW) -> Around:
    """NPS over [t - window, t) against [t, t + window); an account's milestone counts its answers only."""
    t = milestone.occurred_at
    mine = [s for s in scores if milestone.account_id is None or s.account_id == milestone.account_id]
    # Differences, not t ± window: a milestone near either end of the calendar must not overflow.
    before, n_before = _nps([s for s in mine if timedelta(0) < t - s.at <= window])
    after, n_after = _nps([s for s in mine if timedelta(0) <= s.at - t < window])
    return Around(before=before, after=after, answers_before=n_before, answers_after=n_after)
