"""A short-lived in-process cache of the user -> account map, in front of Postgres.

Product traffic asks the same few thousand users' accounts over and over; one query per request
was a quarter of ingest's CPU. Only known links are cached (an unknown user always goes to
Postgres, under the parking lock), and this process's own group calls update it at once, so the
only staleness is a user regrouped through *another* replica, for at most ``ttl`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

from ..identity import Parked
from ..ports import Identities, StoredParked
from ..semantics import EventDoc


class CachedIdentities:
    def __init__(
        self, inner: Identities, *, ttl: float, max_entries: int = 200_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._inner = inner
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock  # real time on purpose: expiry protects freshness, it is not event time
        self._entries: dict[str, tuple[str, float]] = {}

    async def accounts(self, keys: Sequence[str]) -> dict[str, str]:
        now = self._clock()
        found: dict[str, str] = {}
        missing: list[str] = []
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None and entry[1] > now:
                found[key] = entry[0]
            else:
                missing.append(key)
        if missing:
            fetched = await self._inner.accounts(missing)
            self._remember(fetched, now)
            found.update(fetched)
        return found

    async def park_and_link(
        self, *, parked: Sequence[tuple[Parked, EventDoc]], links: dict[str, str], source: str, now: datetime
    ) -> dict[str, str]:
        late = await self._inner.park_and_link(parked=parked, links=links, source=source, now=now)
        self._remember({**links, **late}, self._clock())
        return late

    async def parked_for(self, keys: Sequence[str]) -> list[tuple[StoredParked, str]]:
        return await self._inner.parked_for(keys)

    async def stranded(self, limit: int) -> list[tuple[StoredParked, str]]:
        return await self._inner.stranded(limit)

    async def forget(self, message_ids: Sequence[str]) -> None:
        await self._inner.forget(message_ids)

    def _remember(self, accounts: dict[str, str], now: float) -> None:
        if len(self._entries) + len(accounts) > self._max:
            self._entries.clear()  # crude but bounded; the next requests refill what is hot
        expires = now + self._ttl
        for key, account in accounts.items():
            self._entries[key] = (account, expires)
