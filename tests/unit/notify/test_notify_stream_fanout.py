"""The in-app stream fan-out: one watcher checks every due user of the process in one query and
queues each stream only its own user's new messages; a stream that does not keep up is dropped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from touchline.notify.streams import StreamHub, StreamWatcher
from touchline.shared.clock import SimulatedClock

T0 = datetime(2027, 1, 10, 12, tzinfo=UTC)


def msg(id_: str) -> dict[str, Any]:
    return {"id": id_, "kind": "popup", "title": id_}


class FakeInbox:
    """Eligible messages per user, as the database would answer; records every query."""

    def __init__(self) -> None:
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.queries: list[list[str]] = []
        self.failures = 0

    async def eligible(self, user_ids: Sequence[str]) -> Mapping[str, Sequence[dict[str, Any]]]:
        self.queries.append(sorted(user_ids))
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        return {u: list(self.messages[u]) for u in user_ids if u in self.messages}


class FakeSession:
    def __init__(self) -> None:
        self.lost = asyncio.Event()
        self.closed = False

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self.closed = True


class FakeListener:
    def __init__(self, *, refuse: int = 0) -> None:
        self.refuse = refuse
        self.opened = 0
        self.sessions: list[FakeSession] = []
        self.on_payload: Callable[[str], None] = lambda _p: None

    async def open(self, on_payload: Callable[[str], None]) -> FakeSession:
        self.opened += 1
        if self.refuse:
            self.refuse -= 1
            raise ConnectionError("no listen connection")
        self.on_payload = on_payload
        self.sessions.append(FakeSession())
        return self.sessions[-1]


def drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def ids(queue: asyncio.Queue[Any]) -> list[str | None]:
    return [m["id"] if m else None for m in drain(queue)]


def watcher(inbox: FakeInbox, hub: StreamHub, clock: SimulatedClock | None = None) -> StreamWatcher:
    return StreamWatcher(
        hub=hub, source=inbox, clock=clock or SimulatedClock(T0), poll_seconds=0.01, sweep_seconds=3600
    )


async def until(probe: Callable[[], Any], what: str) -> None:
    for _ in range(2000):
        if probe():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


@contextlib.asynccontextmanager
async def running(*coros: Any) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c(stop)) for c in coros]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_a_message_for_one_user_reaches_only_that_users_stream():
    hub, inbox = StreamHub(queue_size=10), FakeInbox()
    ann, bob = hub.subscribe("ann"), hub.subscribe("bob")
    inbox.messages["ann"] = [msg("m1")]
    await watcher(inbox, hub).check_once()
    assert ids(ann.queue) == ["m1"] and ids(bob.queue) == []


async def test_every_user_due_is_checked_in_one_query():
    hub, inbox = StreamHub(queue_size=10), FakeInbox()
    for user in ("ann", "bob", "cat"):
        hub.subscribe(user)
    w = watcher(inbox, hub)
    await w.check_once()
    assert inbox.queries == [["ann", "bob", "cat"]] and w.checks == 1


async def test_nobody_due_costs_no_query():
    hub, inbox = StreamHub(queue_size=10), FakeInbox()
    hub.request(["someone-on-another-replica"])
    assert await watcher(inbox, hub).check_once() == 0 and inbox.queries == []


async def test_a_notification_for_a_user_connected_elsewhere_is_ignored():
    hub, inbox = StreamHub(queue_size=10), FakeInbox()
    hub.subscribe("ann")
    w = watcher(inbox, hub)
    await w.check_once()
    hub.request(["bob"])
    assert await w.check_once() == 0 and inbox.queries == [["ann"]]


async def test_a_stream_is_sent_each_message_once_and_a_second_tab_gets_it_too():
    hub, inbox = StreamHub(queue_size=10), FakeInbox()
    first = hub.subscribe("ann")
    inbox.messages["ann"] = [msg("m1")]
    w = watcher(inbox, hub)
    await w.check_once()
    second = hub.subscribe("ann")
    inbox.messages["ann"] = [msg("m1"), msg("m2")]
    hub.request(["ann"])
    await w.check_once()
    assert ids(first.queue) == ["m1", "m2"] and ids(second.queue) == ["m1", "m2"]


async def test_a_stream_that_does_not_keep_up_is_dropped_and_the_others_still_get_theirs():
    hub, inbox = StreamHub(queue_size=2), FakeInbox()
    slow, fast = hub.subscribe("ann"), hub.subscribe("bob")
    inbox.messages = {"ann": [msg("a1"), msg("a2"), msg("a3")], "bob": [msg("b1")]}
    await watcher(inbox, hub).check_once()
    assert slow.dropped and hub.dropped == 1 and ids(slow.queue) == ["a1", "a2", None]
    assert ids(fast.queue) == ["b1"] and hub.users() == ["bob"]


async def test_a_dropped_stream_is_sent_nothing_more():
    hub, inbox = StreamHub(queue_size=1), FakeInbox()
    slow = hub.subscribe("ann")
    inbox.messages["ann"] = [msg("a1"), msg("a2")]
    w = watcher(inbox, hub)
    await w.check_once()
    hub.request(["ann"])
    await w.check_once()
    assert ids(slow.queue) == ["a1", None] and len(inbox.queries) == 1


async def test_users_of_a_failed_check_are_checked_again():
    hub, inbox = StreamHub(queue_size=10), FakeInbox()
    ann = hub.subscribe("ann")
    inbox.messages["ann"] = [msg("m1")]
    inbox.failures = 1
    w = watcher(inbox, hub)
    try:
        await w.check_once()
        raise AssertionError("the check should have failed")
    except ConnectionError:
        pass
    await w.check_once()
    assert inbox.queries == [["ann"], ["ann"]] and ids(ann.queue) == ["m1"]


async def test_the_watcher_keeps_going_after_a_failed_check():
    hub, inbox = StreamHub(queue_size=10), FakeInbox()
    inbox.failures = 1
    inbox.messages["ann"] = [msg("m1")]
    ann = hub.subscribe("ann")
    async with running(watcher(inbox, hub).run):
        await until(lambda: not ann.queue.empty(), "message after the retry")
    assert ids(ann.queue) == ["m1"] and len(inbox.queries) == 2


async def test_a_clock_move_has_every_connected_user_checked():
    hub, inbox, clock = StreamHub(queue_size=10), FakeInbox(), SimulatedClock(T0)
    w = watcher(inbox, hub, clock)
    ann, bob = hub.subscribe("ann"), hub.subscribe("bob")
    await w.check_once()
    hub.listening = True  # a long sweep: only the clock move can wake the tick
    inbox.messages["bob"] = [msg("capped-until-now")]
    async with running(w.run, w.tick):
        await asyncio.sleep(0)
        clock.set(T0 + timedelta(days=1))
        await until(lambda: not bob.queue.empty(), "message made eligible by the clock")
    assert ids(bob.queue) == ["capped-until-now"] and ids(ann.queue) == []
    assert ["ann", "bob"] in inbox.queries[1:]


async def test_a_notification_checks_just_that_user_and_a_lost_listen_connection_falls_back_to_polling():
    hub, inbox, listener = StreamHub(queue_size=10), FakeInbox(), FakeListener()
    w = watcher(inbox, hub)
    ann, bob = hub.subscribe("ann"), hub.subscribe("bob")
    async with running(w.run, lambda stop: w.listen(listener, stop)):
        await until(lambda: hub.listening and not hub.wake.is_set(), "listening, first sweep done")
        inbox.queries.clear()
        inbox.messages["ann"] = [msg("m1")]
        listener.on_payload("ann")
        await until(lambda: not ann.queue.empty(), "notified message")
        assert inbox.queries == [["ann"]] and ids(bob.queue) == []
        listener.sessions[0].lost.set()
        await until(lambda: len(listener.sessions) == 2, "reconnected")
    assert listener.sessions[0].closed and listener.sessions[1].closed and not hub.listening


async def test_while_the_listen_connection_cannot_be_opened_everyone_is_polled():
    hub, inbox, listener = StreamHub(queue_size=10), FakeInbox(), FakeListener(refuse=1_000_000)
    w = watcher(inbox, hub)
    ann = hub.subscribe("ann")
    inbox.messages["ann"] = [msg("m1")]
    got: list[str | None] = []
    async with running(w.run, w.tick, lambda stop: w.listen(listener, stop)):
        await until(lambda: got.extend(ids(ann.queue)) or got == ["m1"], "first message")
        inbox.messages["ann"] = [msg("m1"), msg("m2")]  # stored while nobody listens
        await until(lambda: got.extend(ids(ann.queue)) or got == ["m1", "m2"], "message found by polling")
    assert not hub.listening and listener.opened >= 1


async def test_shutdown_ends_every_stream():
    hub = StreamHub(queue_size=10)
    ann = hub.subscribe("ann")
    hub.close()
    assert ids(ann.queue) == [None] and hub.users() == []
