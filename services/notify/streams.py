"""One watcher per notify process feeds every open in-app stream (SSE) connected to that process.

Each stream polling Postgres on its own cost a transaction per connected user per poll interval.
Here the process keeps a registry of its connected users and checks many of them in one query:
- at once, the users a Postgres notification names (sent in the transaction that stores a message;
  every replica hears it and checks only the users connected to it);
- all of them whenever the clock moves (a simulated move can free the frequency cap) and, with the
  wall clock, every ``sweep_seconds`` (the cap window rolls on; cheap insurance);
- all of them every ``poll_seconds`` while no LISTEN connection is up (turned off, or reconnecting),
  and once more when it comes back (a notification sent meanwhile was never heard).
The watcher never waits for a client: each stream has a bounded queue, and a stream that lets it fill
is dropped (its client reconnects and is sent what is eligible then).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from touchline.shared.clock import Clock
from touchline.shared.retry import backoff

from .ports import InboxSource, Listener, ListenSession

log = logging.getLogger(__name__)
Message = dict[str, Any]


@dataclass(eq=False)
class Subscription:
    """One open stream. ``queue`` yields messages, then None once the stream is to end."""

    user_id: str
    queue: asyncio.Queue[Message | None] = field(default_factory=asyncio.Queue)
    sent: set[str] = field(default_factory=set)
    dropped: bool = False


class StreamHub:
    """The process's open streams by user, and which users are due for a check."""

    def __init__(self, *, queue_size: int) -> None:
        self.queue_size = queue_size
        self.listening = False
        self.wake = asyncio.Event()
        self.dropped = 0
        self._subs: dict[str, set[Subscription]] = {}
        self._pending: set[str] = set()
        self._everyone = False

    def subscribe(self, user_id: str) -> Subscription:
        subscription = Subscription(user_id)
        self._subs.setdefault(user_id, set()).add(subscription)
        self.request([user_id])  # a new stream is sent what is eligible now
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subs = self._subs.get(subscription.user_id)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._subs[subscription.user_id]

    def users(self) -> list[str]:
        return list(self._subs)

    def streams(self) -> int:
        return sum(len(s) for s in self._subs.values())

    def request(self, user_ids: Iterable[str]) -> None:
        """Check these users soon; users not connected here are someone else's (another replica)."""
        wanted = [u for u in user_ids if u in self._subs]
        if wanted:
            self._pending.update(wanted)
            self.wake.set()

    def request_all(self) -> None:
        if self._subs:
            self._everyone = True
            self.wake.set()

    def take(self) -> list[str]:
        """The users to check now (each once), forgetting the requests."""
        users = self.users() if self._everyone else [u for u in self._pending if u in self._subs]
        self._everyone = False
        self._pending.clear()
        self.wake.clear()
        return users

    def deliver(self, eligible: Mapping[str, Sequence[Message]]) -> int:
        """Queue each stream the messages it has not been sent; drop a stream whose queue is full."""
        queued = 0
        for user_id, messages in eligible.items():
            for subscription in list(self._subs.get(user_id, ())):
                for message in messages:
                    if message["id"] in subscription.sent:
                        continue
                    if subscription.queue.qsize() >= self.queue_size:
                        self._drop(subscription)
                        break
                    subscription.sent.add(message["id"])
                    subscription.queue.put_nowait(message)
                    queued += 1
        return queued

    def _drop(self, subscription: Subscription) -> None:
        log.info("in-app stream dropped: its client does not keep up", extra={"user": subscription.user_id})
        subscription.dropped = True
        self.dropped += 1
        self.unsubscribe(subscription)
        subscription.queue.put_nowait(None)  # the queue itself is unbounded: the end marker always fits

    def close(self) -> None:
        """End every stream (shutdown)."""
        for subs in list(self._subs.values()):
            for subscription in list(subs):
                self.unsubscribe(subscription)
                subscription.queue.put_nowait(None)


async def first_of(*events: asyncio.Event, timeout: float | None, also: asyncio.Future[None] | None = None) -> None:
    """Return when any event is set (or ``also`` is done), or after ``timeout``."""
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait([*waiters, *([also] if also else [])], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@dataclass
class StreamWatcher:
    hub: StreamHub
    source: InboxSource
    clock: Clock
    poll_seconds: float
    sweep_seconds: float
    checks: int = 0  # queries made (one per check, whatever the number of users)
    _unheard: asyncio.Event = field(default_factory=asyncio.Event)  # the LISTEN connection just went down

    async def check_once(self) -> int:
        """Check every user due and fan the result out; the users stay due if the check fails."""
        users = self.hub.take()
        if not users:
            return 0
        self.checks += 1
        try:
            found = await self.source.eligible(users)
        except Exception:
            self.hub.request(users)
            raise
        self.hub.deliver(found)
        return len(users)

    async def run(self, stop: asyncio.Event) -> None:
        """Check whoever is due, as soon as someone is; survive a database that is away."""
        failures = 0
        while not stop.is_set():
            await first_of(self.hub.wake, stop, timeout=None)
            if stop.is_set():
                return
            try:
                await self.check_once()
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning("in-app stream check failed; retrying", extra={"error": repr(exc)})
                await first_of(stop, timeout=backoff(failures, base=0.5, cap=10.0))

    async def tick(self, stop: asyncio.Event) -> None:
        """Everyone is due when the clock moves, and every sweep (every poll while not listening)."""
        while not stop.is_set():
            timeout = self.sweep_seconds if self.hub.listening else self.poll_seconds
            moved = asyncio.ensure_future(self.clock.changed(timeout=timeout))
            try:
                await first_of(self._unheard, stop, timeout=None, also=moved)
            finally:
                moved.cancel()
            self._unheard.clear()
            self.hub.request_all()

    async def listen(self, listener: Listener, stop: asyncio.Event) -> None:
        """Keep a LISTEN connection up; while it is down the tick polls everyone every poll_seconds."""
        failures = 0
        while not stop.is_set():
            try:
                session = await listener.open(lambda user_id: self.hub.request([user_id]))
            except Exception as exc:
                failures += 1
                log.warning("in-app listen connection failed; polling meanwhile", extra={"error": repr(exc)})
                await first_of(stop, timeout=backoff(failures, base=0.5, cap=30.0))
                continue
            failures = 0
            try:
                self.hub.listening = True
                self.hub.request_all()  # what was stored while nobody listened
                await self._hold(session, stop)
            finally:
                self.hub.listening = False
                self._unheard.set()  # the tick switches to polling now, not at the end of its sweep wait
                await session.close()

    async def _hold(self, session: ListenSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await first_of(session.lost, stop, timeout=self.sweep_seconds)
            if stop.is_set():
                return
            if session.lost.is_set():
                log.warning("in-app listen connection lost; polling until it is back")
                return
            try:
                await session.ping()
            except Exception as exc:
                log.warning("in-app listen connection does not answer; reconnecting", extra={"error": repr(exc)})
                return
