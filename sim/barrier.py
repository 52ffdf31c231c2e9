"""Bounded waits that keep simulated days apart: the clock settled, the pipeline drained.

Settled: the clock message is on the clock topic and every service's GET /clock shows it.
Drained: every consumer group reading our topics has committed up to the end of every
partition it reads, no service holds work that is due and not carried out (GET /pending:
touch's timers due by the clock, notify's mail to send and outcomes to publish), and both stay
so for a short quiet window. Services commit their offsets to Kafka after each batch's
transaction, which is what makes consumer lag a faithful "recorded" signal without reading any
service's tables; /pending covers what recording set in motion (a timer a batch set already
due, which the timer loop fires on its next poll; a mail the delivery loop has not sent yet).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from aiokafka.errors import KafkaError

from touchline.shared import topics
from touchline.shared.kafka import KafkaPublisher, make_producer
from touchline.shared.messages import ClockSet
from touchline.shared.settings import CommonSettings
from touchline.sim.client import SimulationError, StackClient, same_instant

WATCHED = (topics.EVENTS, topics.HEALTH, topics.COMMANDS, topics.OUTCOMES)


def lag_of(
    *, end: dict[TopicPartition, int], committed: dict[TopicPartition, int], subscribed: set[str]
) -> dict[TopicPartition, int]:
    """Records a group has not processed yet, per partition of the topics it reads (pure)."""
    lag = {}
    for tp, last in end.items():
        if tp.topic not in subscribed:
            continue
        behind = last - max(committed.get(tp, 0), 0)
        if behind > 0:
            lag[tp] = behind
    return lag


@dataclass
class DrainReport:
    waited_s: float
    checks: int


class Barrier:
    """Clock moves and drain checks against one broker and topic prefix."""

    def __init__(self, common: CommonSettings, client: StackClient, *, quiet_s: float = 0.5) -> None:
        self.common = common
        self.client = client
        self.quiet_s = quiet_s
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._names = {topics.name(t, common.topic_prefix) for t in WATCHED}
        self._subscriptions: dict[str, set[str]] = {}
        self._producer: Any = None
        self._groups_cache: list[str] = []
        # Sum of every group's committed offsets at the last check: growing = work is being done.
        self.committed_total = 0
        self._seq = 0

    async def start(self) -> None:
        self._producer = make_producer(self.common.kafka_bootstrap_servers)
        await self._producer.start()
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.common.kafka_bootstrap_servers)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.common.kafka_bootstrap_servers)
        await self._consumer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    async def set_clock(self, when: datetime, *, timeout: float = 30.0) -> None:
        """Publish ``when`` and return once every service's GET /clock reports it.

        The same message ``touchline clock set`` publishes, from one long-lived producer (a
        producer per move would cost more than the move)."""
        self._seq = max(self._seq + 1, int(time.time() * 1000))
        publisher = KafkaPublisher(self._producer, source="touchline/sim", prefix=self.common.topic_prefix)
        await publisher.publish(topics.CLOCK, [ClockSet(now=when, seq=self._seq)])
        seen: dict[str, str | None] = {}

        async def settled() -> bool:
            nonlocal seen
            seen = await self.client.clocks()
            return all(same_instant(v, when) for v in seen.values())

        await wait_until(settled, timeout=timeout, what=lambda: f"clock {when.isoformat()} not seen by all: {seen}")

    async def drain(self, *, stall_s: float = 60.0, timeout: float = 1800.0) -> DrainReport:
        """Wait until no group reading our topics is behind and no service holds due work, for
        ``quiet_s`` in a row.

        Bounded two ways: ``stall_s`` without any group getting closer to the end or any change
        in the due work (a stuck consumer or loop), and ``timeout`` overall (a backlog far beyond
        what a run should create)."""
        began = time.monotonic()
        checks = 0
        quiet_since: float | None = None
        listed = False
        progressed: tuple[int, int] = (-1, -1)
        progress_at = began
        while True:
            checks += 1
            lag: dict[str, dict[TopicPartition, int]] | None = None
            unreadable: KafkaError | None = None
            try:
                if not listed:
                    await self._groups()
                    listed = True
                lag = await self.lag()
            except KafkaError as exc:
                # After a broker restart the group coordinator answers GroupLoadInProgress (or
                # NotCoordinator) until it has re-read __consumer_offsets: not drained yet, ask again.
                if not exc.retriable:
                    raise
                unreadable = exc
            busy: dict[str, dict[str, int]] | None = None
            if lag == {}:
                busy = await self.busy()
            now = time.monotonic()
            moved = (self.committed_total, _total(busy))
            if moved != progressed:
                progressed, progress_at = moved, now
            if lag is None or lag or busy is None or busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= self.quiet_s:
                return DrainReport(waited_s=now - began, checks=checks)
            stalled = now - progress_at > stall_s
            if stalled or now - began > timeout:
                why = f"no progress for {stall_s:.0f}s" if stalled else f"not drained after {timeout:.0f}s"
                if lag is None:
                    raise SimulationError(f"pipeline {why}; consumer offsets unreadable: {unreadable!r}")
                if not lag:
                    held = busy if busy is not None else "a service does not answer GET /pending"
                    raise SimulationError(f"pipeline {why}; work due and not carried out per service: {held}")
                behind = {g: _per_topic(v) for g, v in lag.items()}
                raise SimulationError(f"pipeline {why}; records behind per consumer group: {behind}")
            await asyncio.sleep(0.1)

    async def busy(self) -> dict[str, dict[str, int]] | None:
        """Per service, the work it holds that is due and not carried out yet, only where there
        is some; None while a service does not answer (restarting, database away)."""
        answers = await self.client.pending()
        if any(work is None for work in answers.values()):
            return None
        return {s: {k: n for k, n in w.items() if n} for s, w in answers.items() if w and any(w.values())}

    async def lag(self) -> dict[str, dict[TopicPartition, int]]:
        """Per consumer group, the partitions it is behind on (empty = drained)."""
        assert self._admin is not None and self._consumer is not None
        end = await self._end_offsets()
        groups = [g for g in (self._groups_cache or await self._groups()) if self._subscriptions.get(g)]
        listed = await asyncio.gather(*(self._admin.list_consumer_group_offsets(g) for g in groups))
        behind: dict[str, dict[TopicPartition, int]] = {}
        self.committed_total = 0
        for group, offsets in zip(groups, listed, strict=True):
            committed = {tp: meta.offset for tp, meta in offsets.items() if tp.topic in self._names}
            self.committed_total += sum(max(o, 0) for o in committed.values())
            subscribed = self._subscriptions[group] | {tp.topic for tp in committed}
            group_lag = lag_of(end=end, committed=committed, subscribed=subscribed)
            if group_lag:
                behind[group] = group_lag
        return behind

    async def _end_offsets(self) -> dict[TopicPartition, int]:
        assert self._consumer is not None
        partitions = [
            TopicPartition(name, p)
            for name in sorted(self._names)
            for p in (self._consumer.partitions_for_topic(name) or await self._partitions(name))
        ]
        return dict(await self._consumer.end_offsets(partitions))

    async def _partitions(self, name: str) -> Sequence[int]:
        assert self._consumer is not None
        await self._consumer._client.force_metadata_update()
        return sorted(self._consumer.partitions_for_topic(name) or [])

    async def _groups(self) -> list[str]:
        """Groups of this prefix (listed once per drain); which of our topics each reads is
        learnt once. Groups reading none of them (other test sessions' groups on a shared
        broker when the prefix is empty) are left out of every check."""
        assert self._admin is not None
        listed = [g[0] for g in await self._admin.list_consumer_groups()]
        mine = [g for g in listed if g.startswith(self.common.topic_prefix)]
        for group in mine:
            if not self._subscriptions.get(group):
                self._subscriptions[group] = await self._subscription(group)
        self._groups_cache = mine
        return mine

    async def _subscription(self, group: str) -> set[str]:
        """Topics the group's live members subscribe to; when the broker's answer cannot be
        read, the topic catalogue's consumers (a group is named after its service)."""
        assert self._admin is not None
        service = group[len(self.common.topic_prefix) :].split(".")[0].split("-")[0]
        guessed = {topics.name(t, self.common.topic_prefix) for t in WATCHED if service in t.consumers}
        try:
            described = await self._admin.describe_consumer_groups([group])
        except Exception:  # aiokafka cannot decode some brokers' answers; the catalogue still knows
            return guessed
        found = {t for response in described for g in response.groups for t in _subscribed(g)}
        return (found & self._names) or guessed


def _total(busy: dict[str, dict[str, int]] | None) -> int:
    return -1 if busy is None else sum(n for work in busy.values() for n in work.values())


def _per_topic(lag: dict[TopicPartition, int]) -> dict[str, int]:
    """Records behind per topic (a stuck group shows which of its inputs it stopped reading)."""
    totals: dict[str, int] = {}
    for tp, n in lag.items():
        totals[tp.topic] = totals.get(tp.topic, 0) + n
    return totals


def _subscribed(group: tuple) -> set[str]:  # type: ignore[type-arg]
    """Topics the live members of a described group subscribe to (from their metadata)."""
    members = group[5]
    found: set[str] = set()
    for member in members:
        metadata = member[-2]
        if not metadata:
            continue
        try:
            found |= set(ConsumerProtocolMemberMetadata.decode(metadata).subscription)
        except Exception:  # a member speaking another protocol tells us nothing
            continue
    return found


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float, what: Callable[[], str], every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise SimulationError(f"waited {timeout:.0f}s: {what()}")
        await asyncio.sleep(every)
