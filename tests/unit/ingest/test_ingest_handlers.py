"""The accept handler with in-memory fakes of the ports: park, link, release, never lose."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from ingest_fakes import FakeIdentities  # type: ignore[import-not-found]

from touchline.ingest.domain import Call
from touchline.ingest.handlers import Ports, accept, release_stranded
from touchline.ingest.ports import BrokerUnavailable
from touchline.ingest.semantics import EventDoc

NOW = datetime(2027, 3, 1, tzinfo=UTC)


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
