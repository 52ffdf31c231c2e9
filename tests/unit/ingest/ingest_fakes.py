"""An in-memory fake of ingest's Identities port (the user -> account map and the parked events),
shared by the handler tests and the pipeline harness."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from touchline.ingest.identity import Parked
from touchline.ingest.ports import StoredParked
from touchline.ingest.semantics import EventDoc


class FakeIdentities:
    def __init__(self) -> None:
        self.links: dict[str, str] = {}
        self.parked: list[tuple[tuple[str, ...], EventDoc]] = []
        self.link_behind_our_back: dict[str, str] = {}

    async def accounts(self, keys: Sequence[str]) -> dict[str, str]:
        return {k: self.links[k] for k in keys if k in self.links}

    async def park_and_link(
        self, *, parked: Sequence[tuple[Parked, EventDoc]], links: dict[str, str], source: str, now: datetime
    ) -> dict[str, str]:
        self.links.update(links)
        self.links.update(self.link_behind_our_back)  # a concurrent group call committed first
        late = {k: self.links[k] for p, _ in parked for k in p.keys if k in self.links}
        known = {e["message_id"] for _, e in self.parked}
        for p, event in parked:
            if not any(k in late for k in p.keys) and event["message_id"] not in known:
                self.parked.append((p.keys, event))
        return late

    def _releasable(self, keys: set[str] | None) -> list[tuple[StoredParked, str]]:
        out = []
        for pkeys, event in self.parked:
            account = next((self.links[k] for k in pkeys if k in self.links), None)
            if account is not None and (keys is None or keys & set(pkeys)):
                out.append((StoredParked(event["message_id"], event), account))
        return out

    async def parked_for(self, keys: Sequence[str]) -> list[tuple[StoredParked, str]]:
        return self._releasable(set(keys))

    async def stranded(self, limit: int) -> list[tuple[StoredParked, str]]:
        return self._releasable(None)[:limit]

    async def forget(self, message_ids: Sequence[str]) -> None:
        self.parked = [(k, e) for k, e in self.parked if e["message_id"] not in message_ids]
