"""The unit of work: one transaction, the state it changes and the messages it sends.

When is a message sent? Every service that changes state *and* sends messages because of it
does both in a unit of work::

    async with unit_of_work(engine, publisher) as uow:
        repo = Repository(uow.conn)         # reads and writes in the transaction; never commits
        ...                                  # change state, decide
        uow.emit(topics.COMMANDS, commands)  # collected, not sent yet

and when the block ends without an error the unit of work publishes what was emitted (in the
order emitted, one ``publish`` per ``emit``), waits until the broker acknowledged every
message, and only then commits. If the block raises, nothing is published and the transaction
rolls back. The consumer runner (shared/consumer.py) is one such block per batch: the handler's
writes, the consumed offsets and the handler's messages; health's decay sweep and override API
and touch's timers and manual enrolments are others.

The guarantee: **a committed change's messages were acknowledged by the broker before the
commit (at least once, never lost).** The price is the gap between publish and commit: a crash
or a failed commit there leaves messages sent for a change that was rolled back. Whatever
produced them runs again (a consumer batch is replayed from the stored offsets, a timer is still
due, a sweep finds the same accounts due, an API client retries with its idempotency key) and
republishes the same messages with the same ids: every message id is deterministic (derived from
what caused it, never random or clock-based), and every consumer drops an id it processed
before (``processed_messages``). So "sent twice, processed once" is the normal result of a crash,
not an error.

The other way, on purpose: notify's outcomes (email sent, opened, clicked, task done, ...) are
not sent by a unit of work but written to ``notify.outbox`` in the transaction that records them
and published afterwards by a relay loop. They follow SMTP sends and webhook calls that happen
outside any consumer transaction, in delivery loops whose own transactions must not wait on the
broker; the outbox gives the same guarantee (committed, then sent at least once with a stable
id) without holding a transaction open while Kafka answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import NamedTuple, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .cloudevents import Encoded, Headers
from .messages import Message
from .topics import Topic

__all__ = ["Publisher", "UnitOfWork", "unit_of_work"]


class Publisher(Protocol):
    async def publish(
        self,
        topic: Topic,
        messages: Sequence[Message | Encoded],
        *,
        trace: Mapping[str, Headers] | None = None,
    ) -> None:
        """Return once the broker has acknowledged every message (``trace``: tracing headers per key)."""
        ...


class _Emitted(NamedTuple):
    topic: Topic
    messages: list[Message | Encoded]
    trace: Mapping[str, Headers] | None


class UnitOfWork:
    """The open transaction (``conn``) and the messages emitted in it, not sent yet."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._emitted: list[_Emitted] = []

    def emit(
        self,
        topic: Topic,
        messages: Iterable[Message | Encoded],
        *,
        trace: Mapping[str, Headers] | None = None,
    ) -> None:
        """Send these when the unit of work ends, before it commits (``trace``: tracing headers per
        message key, see touchline.shared.tracing.trace_by_key)."""
        batch = list(messages)
        if batch:
            self._emitted.append(_Emitted(topic, batch, trace))

    @property
    def emitted(self) -> list[tuple[Topic, Message | Encoded]]:
        """What this unit of work will send, in order."""
        return [(e.topic, m) for e in self._emitted for m in e.messages]

    async def publish(self, publisher: Publisher) -> None:
        for emitted in self._emitted:
            await publisher.publish(emitted.topic, emitted.messages, trace=emitted.trace)
        self._emitted.clear()


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine, publisher: Publisher) -> AsyncIterator[UnitOfWork]:
    """Open a transaction; on a clean exit publish what was emitted, then commit (see the module)."""
    async with engine.begin() as conn:
        uow = UnitOfWork(conn)
        yield uow
        await uow.publish(publisher)
