"""The ports the health handlers talk to; adapters/postgres.py implements them on one connection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

from touchline.shared import topics
from touchline.shared.cloudevents import Encoded, Headers
from touchline.shared.messages import Message

from .domain.account import Published, Rescored
from .domain.aggregates import AccountState, LifecycleFact
from .domain.overrides import Override


class StoredScore(NamedTuple):
    """An account's score columns as stored."""

    score: float | None = None
    computed: float | None = None
    band: str | None = None
    overridden: bool = False


@dataclass
class AccountRecord:
    """One account as stored: its aggregates, its overrides, what was last published."""

    state: AccountState
    overrides: list[Override] = field(default_factory=list)
    published: Published | None = None
    exists: bool = True
    # The score as stored before this rescore: history keeps a row only when it changes.
    stored: StoredScore = field(default_factory=StoredScore)

    @classmethod
    def new(cls, account_id: str) -> AccountRecord:
        return cls(state=AccountState(account_id), exists=False)


@dataclass(frozen=True)
class Scored:
    """An account after a rescore: what to store (and, with score_id, that it was published)."""

    record: AccountRecord
    rescored: Rescored
    cause: str
    score_id: str | None


class HealthRepository(Protocol):
    """Reads and writes inside the caller's transaction; never commits."""

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]: ...

    async def load(self, account_ids: list[str]) -> dict[str, AccountRecord]:
        """Load (and lock) the given accounts; unknown ones are absent."""
        ...

    async def load_due(self, *, now: datetime, limit: int) -> dict[str, AccountRecord]:
        """Lock and load accounts whose next aging time has come, skipping locked ones."""
        ...

    async def save(self, scored: list[Scored], *, now: datetime) -> None: ...

    async def record_lifecycle(self, facts: list[LifecycleFact]) -> None: ...

    async def log_override(
        self, account_id: str, *, action: str, override: dict[str, object], now: datetime
    ) -> None: ...


class Publisher(Protocol):
    async def publish(
        self,
        topic: topics.Topic,
        messages: Sequence[Message | Encoded],
        *,
        trace: Mapping[str, Headers] | None = None,
    ) -> None:
        """Return once the broker has acknowledged every message (``trace``: tracing headers per key)."""
        ...
