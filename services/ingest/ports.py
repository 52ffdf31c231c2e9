"""What the ingest handlers need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .identity import Parked
from .semantics import EventDoc


class Unavailable(RuntimeError):
    """A dependency could not make the events durable: answer 503, never 200."""


class BrokerUnavailable(Unavailable):
    """Kafka did not acknowledge in time (or is not connected)."""


class StoreUnavailable(Unavailable):
    """Postgres (the user -> account map, parked events) did not answer."""


@dataclass(frozen=True)
class StoredParked:
    message_id: str
    event: EventDoc  # account_id is empty until released


class Identities(Protocol):
    """The user -> account map and the events parked until their user is grouped."""

    async def accounts(self, keys: Sequence[str]) -> dict[str, str]: ...

    async def park_and_link(
        self, *, parked: Sequence[tuple[Parked, EventDoc]], links: dict[str, str], source: str, now: datetime
    ) -> dict[str, str]:
        """Store parked events and links atomically, serialised per identity key.

        Returns the accounts (re-read under the lock) of parked keys that got linked meanwhile;
        the caller routes those events instead of parking them, so nothing waits forever.
        """
        ...

    async def parked_for(self, keys: Sequence[str]) -> list[tuple[StoredParked, str]]:
        """Parked events of these keys whose key is linked now, oldest first, with their account."""
        ...

    async def stranded(self, limit: int) -> list[tuple[StoredParked, str]]:
        """Parked events whose user got linked but that were never released (a crash in between)."""
        ...

    async def forget(self, message_ids: Sequence[str]) -> None: ...


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[EventDoc]) -> None:
        """Return once Kafka acknowledged every event (each keyed by its account, CloudEvent source
        ``touchline/ingest/<event.source>``); raise BrokerUnavailable otherwise."""
        ...
