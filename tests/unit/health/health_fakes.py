"""An in-memory fake of health's repository port, shared by the handler tests and the pipeline harness."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from touchline.health.domain.aggregates import LifecycleFact
from touchline.health.ports import AccountRecord, Scored


class FakeRepo:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.rows: dict[str, AccountRecord] = {}
        self.history: list[Scored] = []
        self.facts: list[LifecycleFact] = []
        self.log: list[str] = []
        self.aging: dict[str, datetime | None] = {}

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        new = set(ids) - self.seen
        self.seen |= new
        return new

    async def load(self, account_ids: list[str]) -> dict[str, AccountRecord]:
        return {a: self.rows[a] for a in account_ids if a in self.rows}

    async def load_due(self, *, now: datetime, limit: int) -> dict[str, AccountRecord]:
        due = [a for a, at in self.aging.items() if at is not None and at <= now]
        return {a: self.rows[a] for a in due[:limit]}

    async def save(self, scored: list[Scored], *, now: datetime) -> None:
        for s in scored:
            s.record.overrides = s.rescored.overrides
            s.record.published = s.rescored.published()
            self.rows[s.record.state.account_id] = s.record
            self.aging[s.record.state.account_id] = s.rescored.next_aging_at
            self.history.append(s)

    async def record_lifecycle(self, facts: list[LifecycleFact]) -> None:
        self.facts += facts

    async def log_override(self, account_id: str, *, action: str, override: dict, now: datetime) -> None:  # type: ignore[type-arg]
        self.log.append(action)
