"""CSM tasks: one open task per account + type + reason, snoozes that hold back repeats, owners, due dates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from .when import parse_when

# How long a CSM has, by priority, counted in business days (urgent: hours, same day).
DUE_BUSINESS_DAYS = {"urgent": 0, "high": 1, "medium": 3, "low": 5}
URGENT_HOURS = 4


def add_business_days(start: datetime, days: int) -> datetime:
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def due_at(*, priority: str, created_at: datetime, explicit: datetime | None) -> datetime:
    if explicit is not None:
        return explicit
    if priority == "urgent":
        return created_at + timedelta(hours=URGENT_HOURS)
    return add_business_days(created_at, DUE_BUSINESS_DAYS.get(priority, DUE_BUSINESS_DAYS["medium"]))


@dataclass(frozen=True)
class ExistingTask:
    id: str
    status: str  # open | snoozed
    snoozed_until: datetime | None


@dataclass(frozen=True)
class Create:
    pass


@dataclass(frozen=True)
class Recur:
    """Same account+type+reason while open: update it and count the recurrence."""

    task_id: str


@dataclass(frozen=True)
class Reopen:
    """Snoozed and the snooze is over: the task comes back rather than a twin."""

    task_id: str


@dataclass(frozen=True)
class HoldBack:
    """Snoozed until later: no task now."""

    task_id: str
    until: datetime


TaskDecision = Create | Recur | Reopen | HoldBack


def decide(existing: ExistingTask | None, *, now: datetime) -> TaskDecision:
    if existing is None:
        return Create()
    if existing.status == "snoozed":
        if existing.snoozed_until is not None and existing.snoozed_until > now:
            return HoldBack(existing.id, existing.snoozed_until)
        return Reopen(existing.id)
    return Recur(existing.id)


def pick_owner(*, csm_owner: str | None, pool: Sequence[str] | None, turn: int) -> str | None:
    """The account's CSM first; else the pool's member whose turn it is; else nobody (unassigned)."""
    if csm_owner:
        return csm_owner
    if not pool:
        return None
    return pool[turn % len(pool)]


def is_overdue(*, due: datetime | None, status: str, now: datetime) -> bool:
    return status in ("open", "snoozed") and due is not None and due < now


def pool_for(tier: str | None, pools: Mapping[str, Sequence[str]]) -> str | None:
    """The round-robin pool an ownerless account's tasks go to: its tier's, else "default", else none."""
    if tier and pools.get(tier):
        return tier
    return "default" if pools.get("default") else None


class InvalidTask(ValueError):
    """One field of a task opened by hand is wrong; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_due(value: str | None, *, now: datetime) -> datetime | None:
    """A date (due by the end of that day, UTC) or a time with its zone, not in the past; None =
    the priority's usual due time."""
    if value is None or not value.strip():
        return None
    try:
        due = parse_when(value, time_of_day=time(23, 59, 59))
    except ValueError as exc:
        raise InvalidTask("due_at", str(exc)) from None
    if due <= now:
        raise InvalidTask("due_at", f"{due.isoformat()} is in the past (now {now.isoformat()})")
    return due
