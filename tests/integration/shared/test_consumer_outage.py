"""A Postgres outage is waited out by the consumer runner: nothing dead-lettered, nothing lost or doubled.

Runs against a Postgres server of the test's own (tests/own_postgres.py), which it refuses,
stops and starts again; the broker is the session's.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from own_postgres import own_postgres
from sqlalchemy import text
from waiting import eventually

from touchline.shared import topics
from touchline.shared.consumer import ConsumerRunner, RunnerConfig
from touchline.shared.db import make_engine
from touchline.shared.kafka import KafkaPublisher, create_topics, make_producer
from touchline.shared.messages import ProductEvent
from touchline.shared.runtime import Runtime, _readiness_problems
from touchline.shared.settings import CommonSettings

sys.path.insert(0, str(Path(__file__).parent))
from counter_worker import counting_handler, prepare

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _events(batch: str, n: int) -> list[ProductEvent]:
    return [
        ProductEvent(
            message_id=f"{batch}-{i}", account_id=f"acct-{i % 5}", kind="track", event="Used", timestamp=NOW,
            received_at=NOW,
        )
        for i in range(n)
    ]  # fmt: skip


async def _dlq_size(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topics.dlq_name(topic), 0)
        return (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()


async def test_a_postgres_shutting_down_then_away_is_waited_out_and_every_event_applied_once(
    common: CommonSettings,
) -> None:
    bootstrap = common.kafka_bootstrap_servers
    catalogue_entry = topics.Topic(f"outage.{uuid.uuid4().hex[:8]}", "test", ("test",), "ProductEvent", 2)
    await create_topics(bootstrap, prefix=common.topic_prefix, catalogue=[catalogue_entry])
    topic = topics.name(catalogue_entry, common.topic_prefix)
    schema = "outage"
    group = f"g-{uuid.uuid4().hex[:8]}"
    with own_postgres() as server:
        engine = make_engine(server.url)
        await prepare(engine, schema)
        producer = make_producer(bootstrap)
        await producer.start()
        publisher = KafkaPublisher(producer, source="test/outage")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        # retries=1: without the outage classification, two refused attempts would dead-letter the batch.
        config = RunnerConfig(
            group_id=group, topic_names=[topic], schema=schema, max_batch=50, retries=1, backoff_s=0.01,
            max_backoff_s=0.3,
        )  # fmt: skip
        runner = ConsumerRunner(
            consumer=consumer, engine=engine, publisher=publisher, handler=counting_handler(schema, 0.0), config=config
        )
        runtime = Runtime(
            service="test",
            common=common,
            clock=None,
            engine=engine,
            producer=producer,
            publisher=publisher,  # type: ignore[arg-type]
        )
        runtime.runners.append(runner)
        stop = asyncio.Event()
        await consumer.start()
        task = asyncio.create_task(runner.run(stop))
        try:

            async def applied() -> tuple[int, int] | None:
                try:
                    async with engine.connect() as conn:
                        row = (
                            await conn.execute(text(f"SELECT count(*), count(DISTINCT event_id) FROM {schema}.applied"))
                        ).one()
                except Exception:
                    return None
                return (row[0], row[1])

            await publisher.publish_raw(topic, _events("before", 20))
            await eventually(lambda: _at_least(applied, 20), what="the first events applied")
            assert await _readiness_problems(runtime) == []

            # "the database system is shutting down": every new connection refused with 57P03.
            held = await server.hold_shutting_down()
            await engine.dispose()  # the runner's pooled sessions would still be served
            await publisher.publish_raw(topic, _events("during", 30))
            outage_seen = runner.state.outage_retries

            async def refused_many_times() -> bool:
                return runner.state.outage_retries >= outage_seen + config.retries + 3

            await eventually(refused_many_times, what="the runner retrying through the refusals")
            assert runner.state.waiting_on == "database"
            problems = await _readiness_problems(runtime)
            assert any(p.startswith("database:") for p in problems), problems
            assert f"consumer {group}: waiting for the database" in problems

            # Then the server actually goes away (the socket disappears) before it comes back.
            await held.close()
            await eventually(lambda: _true(server.is_down()), what="the server down")
            down_seen = runner.state.outage_retries
            await eventually(
                lambda: _true(runner.state.outage_retries >= down_seen + 3), what="the runner retrying while down"
            )
            assert not task.done()
            await asyncio.to_thread(server.start)

            assert await eventually(lambda: _at_least(applied, 50), what="every event applied") == (50, 50)
            await eventually(lambda: _true(runner.state.waiting_on is None), what="the runner past the outage")
            assert await _readiness_problems(runtime) == []
            assert runner.state.dead_lettered == 0
            assert await _dlq_size(bootstrap, topic) == 0
            assert not task.done(), "the runner stopped"
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            await consumer.stop()
            await producer.stop()
            await engine.dispose()


async def _at_least(probe, n: int):  # type: ignore[no-untyped-def]
    counts = await probe()
    return counts if counts is not None and counts[0] >= n else None


async def _true(value: bool) -> bool:
    return value
