"""The accept handler with in-memory fakes of the ports: park, link, release, never lose."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from touchline.ingest.domain import Call
from touchline.ingest.handlers import Ports, accept, release_stranded
from touchline.ingest.identity import Parked
from touchline.ingest.ports import BrokerUnavailable, StoredParked
from touchline.ingest.semantics import EventDoc

NOW = datetime(2027, 3, 1, tzinfo=UTC)


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


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[EventDoc] = []
        self.down = False

    async def publish(self, events: Sequence[EventDoc]) -> None:
        if self.down:
            raise BrokerUnavailable("down")
        self.events.extend(events)


def call(mid: str, kind: str = "track", **fields: object) -> Call:
    return Call(index=0, kind=kind, message_id=mid, timestamp=NOW, received_at=NOW, **fields)  # type: ignore[arg-type]


@pytest.fixture
def ports() -> Ports:
    return Ports(identities=FakeIdentities(), publisher=FakePublisher())


async def test_events_of_an_ungrouped_user_wait_and_go_out_in_order_once_grouped(ports: Ports) -> None:
    await accept(
        [call("m1", user_id="u", event="a"), call("m2", user_id="u", event="b")], source="p", ports=ports, now=NOW
    )
    assert ports.publisher.events == []  # type: ignore[attr-defined]
    result = await accept([call("g", "group", user_id="u", group_id="acme")], source="p", ports=ports, now=NOW)
    published = ports.publisher.events  # type: ignore[attr-defined]
    assert [(e["message_id"], e["account_id"]) for e in published] == [("m1", "acme"), ("m2", "acme"), ("g", "acme")]
    assert result.released == 2 and ports.identities.parked == []  # type: ignore[attr-defined]


async def test_parked_events_stay_parked_when_kafka_is_down_during_release(ports: Ports) -> None:
    await accept([call("m1", user_id="u", event="a")], source="p", ports=ports, now=NOW)
    ports.publisher.down = True  # type: ignore[attr-defined]
    with pytest.raises(BrokerUnavailable):
        await accept([call("g", "group", user_id="u", group_id="acme")], source="p", ports=ports, now=NOW)
    assert len(ports.identities.parked) == 1  # type: ignore[attr-defined]
    ports.publisher.down = False  # type: ignore[attr-defined]
    assert await release_stranded(ports=ports) == 1
    assert [e["account_id"] for e in ports.publisher.events] == ["acme"]  # type: ignore[attr-defined]


async def test_an_event_whose_user_got_grouped_meanwhile_is_published_not_parked(ports: Ports) -> None:
    ports.identities.link_behind_our_back = {"u:u": "acme"}  # type: ignore[attr-defined]
    result = await accept([call("m1", user_id="u", event="a")], source="p", ports=ports, now=NOW)
    assert (result.published, result.parked) == (1, 0)
    assert [e["account_id"] for e in ports.publisher.events] == ["acme"]  # type: ignore[attr-defined]


async def test_kafka_down_means_the_request_fails_rather_than_succeeding(ports: Ports) -> None:
    ports.publisher.down = True  # type: ignore[attr-defined]
    with pytest.raises(BrokerUnavailable):
        await accept(
            [call("m1", user_id="u", event="a", context={"groupId": "acme"})], source="p", ports=ports, now=NOW
        )


async def test_events_carry_the_write_keys_source(ports: Ports) -> None:
    await accept(
        [call("m1", user_id="u", event="a", context={"groupId": "acme"})], source="backfill", ports=ports, now=NOW
    )
    assert ports.publisher.events[0]["source"] == "backfill"  # type: ignore[attr-defined]
