"""Kafka adapters on aiokafka: the idempotent publisher, topic admin and the clock feed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from . import topics
from .clock import SimulatedClock
from .cloudevents import DecodeError, Encoded, Headers, decode_record, encode
from .messages import ClockSet, Message

log = logging.getLogger(__name__)


def make_producer(bootstrap_servers: str, **overrides: object) -> AIOKafkaProducer:
    """Idempotent producer: acks=all, so an awaited send is durable on the broker."""
    options: dict[str, object] = {
        "bootstrap_servers": bootstrap_servers,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 2,
        "request_timeout_ms": 10_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)  # type: ignore[arg-type]


class KafkaPublisher:
    """Publishes messages as CloudEvents to catalogue topics (prefix applied)."""

    def __init__(self, producer: AIOKafkaProducer, *, source: str, prefix: str = "") -> None:
        self._producer = producer
        self._source = source
        self._prefix = prefix

    async def publish(
        self,
        topic: topics.Topic,
        messages: Sequence[Message | Encoded],
        *,
        time: datetime | None = None,
        trace: Mapping[str, Headers] | None = None,
    ) -> None:
        """Send every message and return once the broker acknowledged all of them.

        ``trace``: per message key, the distributed-tracing headers the message carries
        (see touchline.shared.tracing.trace_by_key)."""
        await self.publish_raw(topics.name(topic, self._prefix), messages, time=time, trace=trace)

    async def publish_raw(
        self,
        topic_name: str,
        messages: Sequence[Message | Encoded],
        *,
        time: datetime | None = None,
        trace: Mapping[str, Headers] | None = None,
    ) -> None:
        futures = []
        for message in messages:
            extra = trace.get(message.key if isinstance(message, Encoded) else message.key(), ()) if trace else ()
            key, value, headers = encode(message, source=self._source, time=time, trace=extra)
            futures.append(await self._producer.send(topic_name, value=value, key=key, headers=headers))
        if futures:
            await asyncio.gather(*futures)

    async def dead_letter(
        self,
        topic_name: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        reason: str,
        offset: int,
        partition: int,
    ) -> None:
        """Copy a record to ``<topic>.dlq`` with why it failed and where it came from."""
        extra: Headers = [
            ("dlq_reason", reason[:2000].encode()),
            ("dlq_topic", topic_name.encode()),
            ("dlq_partition", str(partition).encode()),
            ("dlq_offset", str(offset).encode()),
            ("dlq_source", self._source.encode()),
        ]
        await self._producer.send_and_wait(
            topics.dlq_name(topic_name), value=value, key=key, headers=list(headers or []) + extra
        )


async def create_topics(
    bootstrap_servers: str, *, prefix: str = "", catalogue: Iterable[topics.Topic] = topics.ALL
) -> list[str]:
    """Create every catalogue topic and its DLQ; existing ones are left alone. Returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted: list[NewTopic] = []
        for topic in catalogue:
            topic_name = topics.name(topic, prefix)
            configs = {"cleanup.policy": "compact"} if topic.compacted else {}
            for n, parts, conf in ((topic_name, topic.partitions, configs), (topics.dlq_name(topic_name), 1, {})):
                if n not in existing:
                    wanted.append(NewTopic(name=n, num_partitions=parts, replication_factor=1, topic_configs=conf))
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another process created them between our list and create
            await _wait_for_leaders(admin, [t.name for t in wanted])
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout: float = 30.0) -> None:
    """Return once every partition of ``names`` has a leader: a producer that writes to a topic
    just created otherwise meets NotLeaderForPartition while the broker is still electing."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        described = await admin.describe_topics(names)
        waiting = sorted(
            t["topic"]
            for t in described
            if t["error_code"] != 0 or not t["partitions"] or any(p["leader"] < 0 for p in t["partitions"])
        )
        if not waiting:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics without a leader after {timeout:.0f}s: {', '.join(waiting)}")
        await asyncio.sleep(0.1)


async def read_clock(bootstrap_servers: str, *, prefix: str = "") -> ClockSet | None:
    """The latest simulated time on the clock topic, or None if it was never set."""
    topic_name = topics.name(topics.CLOCK, prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic_name, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            return None
        consumer.seek(tp, end - 1)
        records = await consumer.getmany(tp, timeout_ms=5000)
        for record in reversed(records.get(tp, [])):
            env = decode_record(record)
            if isinstance(env.message, ClockSet):
                return env.message
        return None
    finally:
        await consumer.stop()


async def feed_clock(bootstrap_servers: str, clock: SimulatedClock, *, prefix: str = "", stop: asyncio.Event) -> None:
    """Keep ``clock`` at the latest value of the clock topic until ``stop`` is set."""
    topic_name = topics.name(topics.CLOCK, prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic_name, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        while not stop.is_set():
            batch = await consumer.getmany(tp, timeout_ms=200)
            for record in batch.get(tp, []):
                try:
                    env = decode_record(record)
                except DecodeError as exc:
                    log.warning("ignoring unreadable clock record", extra={"offset": record.offset, "error": str(exc)})
                    continue
                if isinstance(env.message, ClockSet):
                    clock.set(env.message.now)
    finally:
        await consumer.stop()
