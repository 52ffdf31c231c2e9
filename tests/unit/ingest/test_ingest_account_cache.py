"""The in-process user -> account cache: hits, expiry, and this process's own links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from touchline.ingest.adapters.cache import CachedIdentities


class CountingStore:
    def __init__(self, links: dict[str, str]) -> None:
        self.links = links
        self.asked: list[list[str]] = []

    async def accounts(self, keys: Sequence[str]) -> dict[str, str]:
        self.asked.append(list(keys))
        return {k: self.links[k] for k in keys if k in self.links}

    async def park_and_link(self, *, parked, links, source, now):  # type: ignore[no-untyped-def]
        self.links.update(links)
        return {}


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_known_links_are_served_from_memory_until_they_expire() -> None:
    store, clock = CountingStore({"u:a": "acme"}), Clock()
    cache = CachedIdentities(store, ttl=10, clock=clock)  # type: ignore[arg-type]
    assert await cache.accounts(["u:a", "u:b"]) == {"u:a": "acme"}
    assert await cache.accounts(["u:a"]) == {"u:a": "acme"}
    assert store.asked == [["u:a", "u:b"]]
    clock.now = 11
    await cache.accounts(["u:a"])
    assert store.asked[-1] == ["u:a"]


async def test_unknown_users_are_always_asked_again() -> None:
    store = CountingStore({})
    cache = CachedIdentities(store, ttl=10, clock=Clock())  # type: ignore[arg-type]
    await cache.accounts(["u:x"])
    await cache.accounts(["u:x"])
    assert store.asked == [["u:x"], ["u:x"]]


async def test_a_group_call_through_this_process_updates_the_cache_at_once() -> None:
    store = CountingStore({"u:a": "acme"})
    cache = CachedIdentities(store, ttl=10, clock=Clock())  # type: ignore[arg-type]
    await cache.accounts(["u:a"])
    await cache.park_and_link(parked=[], links={"u:a": "beta"}, source="p", now=datetime.now(UTC))
    assert await cache.accounts(["u:a"]) == {"u:a": "beta"}
    assert len(store.asked) == 1
