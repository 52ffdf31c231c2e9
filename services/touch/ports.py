"""Ports of the touch service: what its handlers need from storage and from Kafka."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from touchline.shared.messages import Message
from touchline.shared.topics import Topic

from .domain.changes import ChangeSet, Snapshot
from .domain.engine import Enrolment
from .domain.manual import KeyRecord


class Repository(Protocol):
    """What the service layer needs of storage: the account lock, its snapshot, one place that
    writes what was decided, and the Idempotency-Keys of enrolments by hand."""

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        """Mark message ids processed; those never seen before (the rest are duplicates)."""
        ...

    async def lock_account(self, account_id: str) -> None: ...
    async def load_account(self, account_id: str, *, sends_from: datetime, cap_window: timedelta | None) -> Snapshot:
        """The account as stored. Its customer messages are those after the earlier of
        ``sends_from`` and its earliest due timer, less ``cap_window`` (none without a cap)."""
        ...

    async def load_accounts(
        self, account_ids: Sequence[str], *, sends_from: datetime, cap_window: timedelta | None
    ) -> dict[str, Snapshot]:
        """``load_account`` for several locked accounts, by account id."""
        ...

    async def apply_changes(self, changes: ChangeSet) -> None:
        """Write a change set: profile, tiers, activity, runs, history, sends, timers (in order),
        fired date triggers."""
        ...

    async def apply_change_sets(self, change_sets: Sequence[ChangeSet]) -> None:
        """``apply_changes`` for several accounts' change sets (each account's rows in its order)."""
        ...

    async def get_enrolment(self, enrolment_id: str) -> Enrolment | None: ...
    async def get_key(self, key: str) -> KeyRecord | None: ...
    async def save_key(self, record: KeyRecord) -> KeyRecord | None:
        """Store an Idempotency-Key; the record already stored under it (then nothing is written), else None."""
        ...


class Publisher(Protocol):
    async def publish(self, topic: Topic, messages: Sequence[Message], *, time: datetime | None = None) -> Any: ...
