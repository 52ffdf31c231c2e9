"""Ports of the touch service: what its handlers need from storage and from Kafka."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from touchline.shared.messages import Message
from touchline.shared.topics import Topic

from .domain.activity import Activity
from .domain.engine import Enrolment, HistoryEntry
from .domain.manual import KeyRecord
from .domain.tiers import Profile, TierAssignment


@dataclass(frozen=True)
class DueTimer:
    account_id: str
    key: str  # "enrolment:<id>" or "trigger:<playbook>"
    due_at: datetime
    enrolment_id: str | None
    playbook: str | None


@dataclass(frozen=True)
class StoredTier:
    tier: str
    rule: str
    phase: str
    value: float | None
    reason: str
    at: datetime


class Repository(Protocol):
    async def lock_account(self, account_id: str) -> None: ...
    async def get_profile(self, account_id: str) -> Profile | None: ...
    async def save_profile(self, profile: Profile, *, at: datetime) -> None: ...
    async def get_activity(self, account_id: str) -> Activity:
        """What touch kept of the account's product use (empty when nothing yet)."""
        ...

    async def save_activity(self, account_id: str, activity: Activity) -> None: ...
    async def get_tier(self, account_id: str) -> StoredTier | None: ...
    async def save_tier(self, account_id: str, assignment: TierAssignment, *, at: datetime) -> None: ...
    async def open_enrolments(self, account_id: str) -> list[Enrolment]: ...
    async def get_enrolment(self, enrolment_id: str) -> Enrolment | None: ...
    async def last_enrolled_at(self, account_id: str, playbook: str) -> datetime | None: ...
    async def save_enrolment(self, e: Enrolment, *, at: datetime) -> None: ...
    async def add_history(self, enrolment_id: str, entries: Sequence[HistoryEntry]) -> None: ...
    async def recent_sends(self, account_id: str, *, since: datetime) -> tuple[datetime, ...]: ...
    async def record_sends(self, account_id: str, sends: Sequence[tuple[str, datetime]]) -> None: ...
    async def set_timer(
        self,
        account_id: str,
        key: str,
        due_at: datetime,
        *,
        enrolment_id: str | None = None,
        playbook: str | None = None,
    ) -> None: ...
    async def get_timer(self, account_id: str, key: str) -> DueTimer | None: ...
    async def clear_timer(self, account_id: str, key: str) -> None: ...
    async def mark_fired(self, account_id: str, key: str, *, at: datetime) -> None: ...
    async def next_due(self, account_id: str, *, until: datetime) -> DueTimer | None: ...
    async def earliest_due(self, account_id: str) -> datetime | None: ...
    async def fired_date_triggers(self, account_id: str) -> dict[str, set[datetime]]:
        """The date values each one-shot date trigger of this account already fired for, by playbook."""
        ...

    async def record_date_trigger(
        self, account_id: str, playbook: str, occurrence: datetime, *, at: datetime
    ) -> None: ...
    async def get_key(self, key: str) -> KeyRecord | None: ...
    async def save_key(self, record: KeyRecord) -> KeyRecord | None:
        """Store an Idempotency-Key; the record already stored under it (then nothing is written), else None."""
        ...


class Publisher(Protocol):
    async def publish(self, topic: Topic, messages: Sequence[Message], *, time: datetime | None = None) -> Any: ...
