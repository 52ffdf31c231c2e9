"""The shared consumer runner against the real broker and database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from touchline.shared import topics
from touchline.shared.db import make_engine
from touchline.shared.kafka import KafkaPublisher, create_topics, make_producer
from touchline.shared.messages import ProductEvent
from touchline.shared.settings import CommonSettings

sys.path.insert(0, str(Path(__file__).parent))
from counter_worker import build_runner, prepare, running

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _event(account: str, n: int) -> ProductEvent:
    return ProductEvent(
        message_id=f"{account}-{n}", account_id=account, kind="track", event="Used", timestamp=NOW, received_at=NOW
    )


async def _new_topic(common: CommonSettings, partitions: int) -> str:
    topic = topics.Topic(f"runner.{uuid.uuid4().hex[:8]}", "test", ("test",), "ProductEvent", partitions)
    await create_topics(common.kafka_bootstrap_servers, prefix=common.topic_prefix, catalogue=[topic])
    return topics.name(topic, common.topic_prefix)


async def _publish_raw(
    common: CommonSettings, topic: str, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = make_producer(common.kafka_bootstrap_servers)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _publish(common: CommonSettings, topic: str, events: list[ProductEvent]) -> None:
    producer = make_producer(common.kafka_bootstrap_servers)
    await producer.start()
    try:
        await KafkaPublisher(producer, source="test").publish_raw(topic, events)
    finally:
        await producer.stop()


async def _applied(common: CommonSettings, schema: str) -> tuple[int, int]:
    engine = make_engine(common.database_url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(text(f"SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM {schema}.applied"))
            ).one()
            return row.n, row.d
    finally:
        await engine.dispose()


async def _wait_for_applied(common: CommonSettings, schema: str, at_least: int, timeout: float = 60) -> tuple[int, int]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        counts = await _applied(common, schema)
        if counts[0] >= at_least or asyncio.get_running_loop().time() > deadline:
            return counts
        await asyncio.sleep(0.1)


async def test_a_malformed_record_ends_in_the_dlq_with_a_reason_and_the_consumer_keeps_going(
    common: CommonSettings,
) -> None:
    topic = await _new_topic(common, 1)
    schema = f"rt_{uuid.uuid4().hex[:8]}"
    await create_topics(common.kafka_bootstrap_servers, catalogue=[topics.Topic(topic, "test", (), "x", 1)])  # its .dlq
    from touchline.shared.cloudevents import encode

    good1 = encode(_event("acme", 1), source="test")
    poison = encode(_event("poison", 1), source="test")
    good2 = encode(_event("acme", 2), source="test")
    await _publish_raw(common, topic, [good1, (b"acme", b"\x00not a cloudevent", []), poison, good2])

    async with running(
        bootstrap=common.kafka_bootstrap_servers,
        database_url=common.database_url,
        topic=topic,
        group=f"g-{schema}",
        schema=schema,
    ):
        applied = await _wait_for_applied(common, schema, 2)
        assert applied == (2, 2)
        dlq = AIOKafkaConsumer(
            topics.dlq_name(topic),
            bootstrap_servers=common.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await dlq.start()
        try:
            got = await dlq.getmany(timeout_ms=10_000)
            records = [r for part in got.values() for r in part]
            while len(records) < 2:
                more = await dlq.getmany(timeout_ms=10_000)
                assert more, f"only {len(records)} DLQ records arrived"
                records += [r for part in more.values() for r in part]
        finally:
            await dlq.stop()
        reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in records)
        assert reasons[0].startswith("handler failed: ValueError('poison account')")
        assert reasons[1] == "missing header ce_specversion"
        assert {dict(r.headers)["dlq_offset"] for r in records} == {b"1", b"2"}


async def test_a_consumer_killed_mid_batch_neither_loses_nor_double_applies_events(common: CommonSettings) -> None:
    topic = await _new_topic(common, 3)
    schema = f"rt_{uuid.uuid4().hex[:8]}"
    total = 600
    await _publish(common, topic, [_event(f"acct-{i % 7}", i) for i in range(total)])
    engine = make_engine(common.database_url)
    await prepare(engine, schema)
    await engine.dispose()
    worker = [
        sys.executable,
        str(Path(__file__).with_name("counter_worker.py")),
        common.kafka_bootstrap_servers,
        common.database_url,
        topic,
        f"g-{schema}",
        schema,
    ]
    first = subprocess.Popen([*worker, "0.01"], env=os.environ.copy())
    try:
        mid = await _wait_for_applied(common, schema, 100)
        assert 0 < mid[0] < total, "the worker must be killed while events remain"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    second = subprocess.Popen([*worker, "0"], env=os.environ.copy())
    try:
        applied, distinct = await _wait_for_applied(common, schema, total)
        await asyncio.sleep(1.0)  # anything applied twice would arrive now
        applied, distinct = await _applied(common, schema)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert (applied, distinct) == (total, total)


async def test_a_batch_delivered_again_after_it_was_applied_changes_nothing(common: CommonSettings) -> None:
    """A rebalance can hand a consumer records whose offsets Postgres already holds."""
    topic = await _new_topic(common, 1)
    schema = f"rt_{uuid.uuid4().hex[:8]}"
    await _publish(common, topic, [_event("acme", i) for i in range(20)])
    engine = make_engine(common.database_url)
    await prepare(engine, schema)
    producer = make_producer(common.kafka_bootstrap_servers)
    await producer.start()
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=common.kafka_bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await reader.start()
    try:
        records: list = []  # type: ignore[type-arg]
        while len(records) < 20:
            got = await reader.getmany(timeout_ms=5000)
            assert got, "records did not arrive"
            records += [r for part in got.values() for r in part]
        _, runner = build_runner(
            bootstrap=common.kafka_bootstrap_servers,
            engine=engine,
            publisher=KafkaPublisher(producer, source="test"),
            topic=topic,
            group=f"g-{schema}",
            schema=schema,
            delay_s=0,
        )
        await runner._process(records)
        await runner._process(records)  # the same batch again
        await runner._process(records[5:15])  # and an overlapping part of it
    finally:
        await reader.stop()
        await producer.stop()
        await engine.dispose()
    assert await _applied(common, schema) == (20, 20)
