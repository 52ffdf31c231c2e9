"""Where the runner starts reading a partition Postgres holds no position for (real broker and DB).

Postgres is the source of truth: Kafka's committed offsets for the group, if any, are ignored,
and a partition whose oldest records were deleted starts at its log start instead of failing.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from sqlalchemy import text

from touchline.shared import topics
from touchline.shared.kafka import KafkaPublisher, create_topics, make_producer
from touchline.shared.messages import ProductEvent
from touchline.shared.settings import CommonSettings

sys.path.insert(0, str(Path(__file__).parent))
from counter_worker import running

NOW = datetime(2027, 1, 1, tzinfo=UTC)


async def _topic_with(common: CommonSettings, count: int) -> str:
    topic = topics.Topic(f"resume.{uuid.uuid4().hex[:8]}", "test", ("test",), "ProductEvent", 1)
    await create_topics(common.kafka_bootstrap_servers, prefix=common.topic_prefix, catalogue=[topic])
    name = topics.name(topic, common.topic_prefix)
    producer = make_producer(common.kafka_bootstrap_servers)
    await producer.start()
    try:
        events = [
            ProductEvent(
                message_id=f"m-{n}", account_id="acme", kind="track", event="Used", timestamp=NOW, received_at=NOW
            )
            for n in range(count)
        ]
        await KafkaPublisher(producer, source="test").publish_raw(name, events)
    finally:
        await producer.stop()
    return name


async def _run_until(common: CommonSettings, topic: str, group: str, schema: str, applied: int) -> list[str]:
    """Run a runner in-process until ``applied`` rows exist (or 60 s); the event ids applied."""
    async with running(
        bootstrap=common.kafka_bootstrap_servers,
        database_url=common.database_url,
        topic=topic,
        group=group,
        schema=schema,
    ) as engine:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            async with engine.connect() as conn:
                ids = [r.event_id for r in await conn.execute(text(f"SELECT event_id FROM {schema}.applied"))]
            if len(ids) >= applied or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # anything read from a wrong position would be applied by now
        async with engine.connect() as conn:
            return [r.event_id for r in await conn.execute(text(f"SELECT event_id FROM {schema}.applied"))]


async def test_kafka_offsets_without_a_postgres_position_are_ignored_and_everything_is_read(
    common: CommonSettings,
) -> None:
    topic = await _topic_with(common, 12)
    schema = f"rs_{uuid.uuid4().hex[:8]}"
    group = f"g-{schema}"
    # Kafka says the group is done with the partition; Postgres (the truth) has nothing.
    committer = AIOKafkaConsumer(
        bootstrap_servers=common.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign([TopicPartition(topic, 0)])
        await committer.commit({TopicPartition(topic, 0): 12})
    finally:
        await committer.stop()
    applied = await _run_until(common, topic, group, schema, 12)
    assert len(applied) == 12 and len(set(applied)) == 12


async def test_a_partition_whose_first_records_were_deleted_starts_at_its_log_start(common: CommonSettings) -> None:
    topic = await _topic_with(common, 10)
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=4)})
    finally:
        await admin.close()
    schema = f"rs_{uuid.uuid4().hex[:8]}"
    applied = await _run_until(common, topic, f"g-{schema}", schema, 6)
    assert len(applied) == 6 and len(set(applied)) == 6
