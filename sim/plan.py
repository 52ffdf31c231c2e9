"""Planned events as Segment calls, cut into batches ingest accepts: pure."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from touchline.sim.personas import Account, PlannedEvent, day_events, introduced_at, introductions

# Segment's limits are 2,500 events and 500 KB per batch; staying well under both keeps
# one rejected batch small and its retry cheap.
MAX_EVENTS_PER_BATCH = 200
MAX_BATCH_BYTES = 400_000
DEFAULT_START = datetime(2027, 1, 4, tzinfo=UTC)
LIBRARY = {"name": "touchline-sim", "version": "0.1.0"}


@dataclass(frozen=True)
class Config:
    """What one simulation run is: who, how long, from when, drawn from which seed."""

    seed: int = 7
    accounts: int = 50
    days: int = 120
    start: datetime = DEFAULT_START
    id_prefix: str = "acct"
    # Days of past usage sent on day 0, so the 30-day trend has its "30 days before" from the
    # first simulated day. Only the personas whose story is a trend get it by default (None =
    # every account): the others are first heard of on day 0, which keeps day 0 light and
    # their date-triggered playbooks (NPS 30 days after first seen) ahead of the clock.
    history_days: int = 60
    backfill: tuple[str, ...] | None = ("slow_decline", "champion_leaves", "recovering")
    # How long before day 0 the long-silent account was last heard of (and never contacted).
    silent_days: int = 365

    def day_start(self, day: int) -> datetime:
        return self.start + timedelta(days=day)


def to_segment(event: PlannedEvent, *, sent_at: datetime) -> dict[str, Any]:
    """One call in Segment's shape; ``sent_at`` lets ingest correct for our clock skew."""
    call: dict[str, Any] = {
        "type": event.type,
        "userId": event.user_id,
        "messageId": event.message_id,
        "timestamp": event.at.isoformat(),
        "sentAt": sent_at.isoformat(),
        "context": {"library": LIBRARY},
    }
    if event.type == "track":
        call["event"] = event.event
        call["properties"] = event.properties
    elif event.type == "group":
        call["groupId"] = event.account_id
        call["traits"] = event.traits
    else:
        call["traits"] = event.traits
    return call


def batches(
    calls: Sequence[dict[str, Any]], *, max_events: int = MAX_EVENTS_PER_BATCH
) -> Iterator[list[dict[str, Any]]]:
    """Consecutive slices under both limits (order kept: identify/group before the tracks)."""
    current: list[dict[str, Any]] = []
    size = 0
    for call in calls:
        call_size = len(json.dumps(call, separators=(",", ":")))
        if current and (len(current) >= max_events or size + call_size > MAX_BATCH_BYTES):
            yield current
            current, size = [], 0
        current.append(call)
        size += call_size
    if current:
        yield current


def history_of(account: Account, config: Config) -> int:
    """Days of past usage this account sends on day 0."""
    if config.backfill is not None and account.persona not in config.backfill:
        return 0
    return config.history_days


def events_of_day(accounts: Sequence[Account], *, config: Config, day: int) -> list[PlannedEvent]:
    """Every account's events for ``day``, in time order. Day 0 also carries who everybody is
    and each account's past usage (a stable sort keeps each account's own order)."""
    events: list[PlannedEvent] = []
    for account in accounts:
        days: Sequence[int] = (day,)
        if day == 0:
            history = history_of(account, config)
            known_since = config.start - timedelta(
                days=config.silent_days if account.persona == "long_silent" else history
            )
            events += introductions(account, at=introduced_at(account, known_since=known_since))
            days = range(-history, 1)
        events += [e for d in days for e in day_events(account, seed=config.seed, day=d, start=config.start)]
    return sorted(events, key=lambda e: e.at)
