"""Helpers for touch's scenario tests: feed messages, move the shared clock, read published commands."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from waiting import eventually

from touchline.shared import topics
from touchline.shared.admin import publish_clock
from touchline.shared.clock import Clock
from touchline.shared.cloudevents import decode_record, encode
from touchline.shared.kafka import make_producer, read_clock
from touchline.shared.messages import Command, HealthScored, Message, Outcome, ProductEvent
from touchline.shared.settings import CommonSettings

DAY = timedelta(days=1)


def new_account() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}"


class Feed:
    """Publishes test messages on the session's topics."""

    def __init__(self, common: CommonSettings) -> None:
        self.common = common
        self.producer = make_producer(common.kafka_bootstrap_servers)
        self.sent: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset after what was sent

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def send(self, topic: topics.Topic, *messages: Message) -> None:
        for message in messages:
            key, value, headers = encode(message, source="touchline/test")
            name = topics.name(topic, self.common.topic_prefix)
            md = await self.producer.send_and_wait(name, value=value, key=key, headers=headers)
            self.sent[(md.topic, md.partition)] = max(self.sent.get((md.topic, md.partition), 0), md.offset + 1)

    async def include_backlog(self) -> None:
        """Count everything already on touch's input topics as sent, so ``consumed`` also waits for
        the backlog earlier tests of the session left there."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.common.kafka_bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        try:
            parts = [
                TopicPartition(topics.name(t, self.common.topic_prefix), p)
                for t in (topics.EVENTS, topics.HEALTH, topics.OUTCOMES)
                for p in range(t.partitions)
            ]
            for tp, end in (await consumer.end_offsets(parts)).items():
                if end:
                    self.sent[(tp.topic, tp.partition)] = max(self.sent.get((tp.topic, tp.partition), 0), end)
        finally:
            await consumer.stop()

    async def consumed(self, engine: AsyncEngine, *, timeout: float = 60) -> None:
        """Wait until touch's consumer stored offsets past everything this feed sent."""

        async def probe() -> bool:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT topic, partition, next_offset FROM touch.consumed_offsets WHERE group_id = 'touch'")
                )
                stored = {(r.topic, r.partition): r.next_offset for r in rows}
            return all(stored.get(k, 0) >= v for k, v in self.sent.items())

        await eventually(probe, timeout=timeout, what="touch consumed what the test sent")

    async def group(self, account: str, at: datetime, **traits: Any) -> None:
        await self.send(topics.EVENTS, group_event(account, at, **traits))

    async def track(
        self, account: str, at: datetime, semantic: str, *, feature: str | None = None, event: str | None = None
    ) -> None:
        message = ProductEvent(
            message_id=uuid.uuid4().hex,
            account_id=account,
            kind="track",
            event=event or semantic,
            semantic=semantic,  # type: ignore[arg-type]
            feature=feature,
            user_id="u1",
            timestamp=at,
            received_at=at,
        )
        await self.send(topics.EVENTS, message)

    async def health(self, account: str, at: datetime, **kw: Any) -> None:
        base: dict[str, Any] = {"score_id": uuid.uuid4().hex, "account_id": account, "score": 40.0, "band": "caution"}
        await self.send(topics.HEALTH, HealthScored.model_validate({**base, "computed_at": at, **kw}))

    async def outcome(
        self,
        command: Command,
        kind: str,
        at: datetime,
        answer: dict[str, Any] | None = None,
        *,
        machine: bool = False,
        detail: str = "",
        user_id: str | None = None,
    ) -> None:
        outcome = Outcome(
            outcome_id=uuid.uuid4().hex,
            account_id=command.account_id,
            kind=kind,  # type: ignore[arg-type]
            command_id=command.command_id,
            enrolment_id=command.enrolment_id,
            playbook=command.playbook,
            step=command.step,
            template=command.template,
            answer=answer,
            machine=machine,
            detail=detail,
            user_id=user_id,
            occurred_at=at,
        )
        await self.send(topics.OUTCOMES, outcome)


def group_event(account: str, at: datetime, **traits: Any) -> ProductEvent:
    return ProductEvent(
        message_id=uuid.uuid4().hex, account_id=account, kind="group", traits=traits, timestamp=at, received_at=at
    )


class Commands:
    """Collects every Command touch publishes, by account, from the start of the topic."""

    def __init__(self, common: CommonSettings) -> None:
        self.common = common
        self.by_account: dict[str, list[Command]] = {}
        self._consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap_servers, enable_auto_commit=False)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        name = topics.name(topics.COMMANDS, self.common.topic_prefix)
        parts = [TopicPartition(name, p) for p in range(topics.COMMANDS.partitions)]
        self._consumer.assign(parts)
        await self._consumer.seek_to_beginning(*parts)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for r in records:
                    env = decode_record(r)
                    if isinstance(env.message, Command):
                        self.by_account.setdefault(env.message.account_id, []).append(env.message)

    def of(self, account: str, playbook: str | None = None) -> list[Command]:
        found = self.by_account.get(account, [])
        return [c for c in found if playbook is None or c.playbook == playbook]

    async def wait(self, account: str, count: int, *, playbook: str | None = None) -> list[Command]:
        """The account's first ``count`` distinct commands (by id), once that many arrived."""

        async def probe() -> list[Command] | None:
            unique = list({c.command_id: c for c in self.of(account, playbook)}.values())
            return unique[:count] if len(unique) >= count else None

        return await eventually(probe, what=f"{count} commands for {account} ({playbook or 'any playbook'})")


def what(c: Command) -> str:
    return f"{c.channel}:{c.template}" if c.channel != "task" else f"task:{c.task.type}:{c.task.priority}"  # type: ignore[union-attr]


class SimTime:
    """The shared simulated clock, only ever moved forward by these tests.

    Before each move it waits until touch consumed what the feed sent: what a test sent
    happened before the clock moved on, as in real life.
    """

    def __init__(
        self, common: CommonSettings, clock: Clock, floor: datetime, *, feed: Feed, engine: AsyncEngine
    ) -> None:
        self.common, self.clock, self.floor, self.feed, self.engine = common, clock, floor, feed, engine

    async def fresh_start(self) -> datetime:
        """A new test's T0: a day after whatever time the clock shows (or the floor), on the hour."""
        current = await read_clock(self.common.kafka_bootstrap_servers, prefix=self.common.topic_prefix)
        base = max(current.now if current else self.floor, self.floor) + DAY
        start = base.replace(minute=0, second=0, microsecond=0)
        await self.set(start)
        return start

    async def set(self, when: datetime) -> None:
        await self.feed.consumed(self.engine)
        await publish_clock(self.common, when)

        async def probe() -> bool:
            return self.clock.now() == when

        await eventually(probe, what=f"clock at {when}")
