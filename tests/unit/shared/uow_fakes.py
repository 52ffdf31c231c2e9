"""In-memory stand-ins for an engine, its connection and a publisher, that log what happens in order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from touchline.shared import topics
from touchline.shared.cloudevents import Envelope
from touchline.shared.messages import Command, Message

T0 = datetime(2027, 3, 1, 10, tzinfo=UTC)


class FakeConn:
    """Answers every statement with no rows (the consumer runner's offset queries included)."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def execute(self, *_: Any) -> list[Any]:
        self.log.append("write")
        return []


class FakeEngine:
    def __init__(self) -> None:
        self.log: list[str] = []

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[FakeConn]:
        try:
            yield FakeConn(self.log)
        except BaseException:
            self.log.append("rollback")
            raise
        self.log.append("commit")


class FakePublisher:
    def __init__(self, log: list[str], *, fail: bool = False) -> None:
        self.log = log
        self.fail = fail
        self.sent: list[tuple[str, list[str], Mapping[str, Any] | None]] = []
        self.parked: list[dict[str, Any]] = []

    async def publish(
        self, topic: topics.Topic, messages: Sequence[Any], *, trace: Mapping[str, Any] | None = None
    ) -> None:
        if self.fail:
            raise ConnectionError("broker away")
        self.log.append(f"publish {topic.name}")
        self.sent.append((topic.name, [m.command_id for m in messages], trace))

    async def dead_letter(self, topic_name: str, **record: Any) -> None:
        self.log.append(f"dead_letter {topic_name}")
        self.parked.append({"topic": topic_name, **record})


def command(account_id: str, command_id: str) -> Command:
    return Command(
        command_id=command_id,
        account_id=account_id,
        channel="task",
        enrolment_id="e1",
        playbook="p",
        step="s",
        dedup_key=command_id,
        issued_at=T0,
    )


def envelope(account_id: str, offset: int, message: Message, *, traceparent: str | None = None) -> Envelope:
    return Envelope(
        id=f"id{offset}",
        source="test",
        type="t",
        message=message,
        topic="touchline.health",
        partition=0,
        offset=offset,
        key=account_id,
        traceparent=traceparent,
        tracestate="k=v" if traceparent else None,
    )
