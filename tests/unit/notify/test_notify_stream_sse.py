"""One connection's server-sent events: the contract (retry, message events, keep-alives) fed by the
hub, the end of a dropped stream, and the NOTIFY that tells the watchers of a new message."""

from __future__ import annotations

import json
from typing import Any

from touchline.notify.adapters import pg_inapp
from touchline.notify.api.inapp import sse_events
from touchline.notify.streams import StreamHub


async def test_a_stream_starts_with_the_retry_hint_then_sends_each_message_as_an_event():
    hub = StreamHub(queue_size=10)
    events = sse_events(hub, "ann", heartbeat=60)
    assert await anext(events) == "retry: 3000\n\n"
    hub.deliver({"ann": [{"id": "m1", "title": "こんにちは"}]})
    chunk = await anext(events)
    head, data = chunk.split("data: ")
    assert head == "id: m1\nevent: message\n" and chunk.endswith("\n\n")
    assert json.loads(data) == {"id": "m1", "title": "こんにちは"}
    await events.aclose()


async def test_an_idle_stream_sends_keep_alive_comments():
    events = sse_events(StreamHub(queue_size=10), "ann", heartbeat=0.01)
    await anext(events)
    assert await anext(events) == ": keep-alive\n\n"
    await events.aclose()


async def test_a_dropped_stream_ends_without_sending_its_backlog():
    hub = StreamHub(queue_size=1)
    events = sse_events(hub, "ann", heartbeat=60)
    await anext(events)
    hub.deliver({"ann": [{"id": "m1"}, {"id": "m2"}]})
    chunks = [c async for c in events]
    assert chunks == [] and hub.users() == []


async def test_a_closed_connection_leaves_the_hub():
    hub = StreamHub(queue_size=10)
    events = sse_events(hub, "ann", heartbeat=60)
    await anext(events)
    assert hub.users() == ["ann"]
    await events.aclose()
    assert hub.users() == [] and hub.streams() == 0


class FakeConn:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def execute(self, _statement: Any, params: dict[str, Any]) -> None:
        self.calls.append(params)


async def test_new_messages_are_announced_once_per_user_and_an_oversized_user_id_is_left_to_the_sweep():
    conn = FakeConn()
    huge = "u" * 8000  # over Postgres's NOTIFY payload limit: announcing it would fail the whole batch
    await pg_inapp.announce(conn, ["ann", "bob", "ann", huge])  # type: ignore[arg-type]
    assert conn.calls == [{"channel": pg_inapp.CHANNEL, "users": ["ann", "bob"]}]


async def test_nothing_stored_announces_nothing():
    conn = FakeConn()
    await pg_inapp.announce(conn, [])  # type: ignore[arg-type]
    assert conn.calls == []
