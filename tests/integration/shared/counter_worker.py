"""A minimal consumer process for the runner's crash tests: counts events per account.

Run as a script: ``python counter_worker.py BOOTSTRAP DATABASE_URL TOPIC GROUP SCHEMA DELAY_S``.
Each applied event adds one row to ``<schema>.applied``; the table has no unique key on
purpose, so an event applied twice shows up as a duplicate row.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from touchline.shared.cloudevents import Envelope
from touchline.shared.consumer import ConsumerRunner, Outgoing, RunnerConfig
from touchline.shared.db import make_engine, offsets_ddl
from touchline.shared.kafka import KafkaPublisher, make_producer


async def prepare(engine: AsyncEngine, schema: str) -> None:
    async with engine.begin() as conn:
        for statement in [
            *offsets_ddl(schema),
            f"CREATE TABLE IF NOT EXISTS {schema}.applied (event_id text, account_id text)",
        ]:
            await conn.execute(text(statement))


def counting_handler(schema: str, delay_s: float):  # type: ignore[no-untyped-def]
    async def handle(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> Outgoing:
        for env in envelopes:
            if env.message.key() == "poison":
                raise ValueError("poison account")
        await conn.execute(
            text(f"INSERT INTO {schema}.applied (event_id, account_id) VALUES (:e, :a)"),
            [{"e": env.id, "a": env.message.key()} for env in envelopes],
        )
        await asyncio.sleep(delay_s * len(envelopes))
        return []

    return handle


def build_runner(
    *,
    bootstrap: str,
    engine: AsyncEngine,
    publisher: KafkaPublisher,
    topic: str,
    group: str,
    schema: str,
    delay_s: float,
) -> tuple[AIOKafkaConsumer, ConsumerRunner]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    config = RunnerConfig(group_id=group, topic_names=[topic], schema=schema, max_batch=50, retries=1, backoff_s=0.01)
    return consumer, ConsumerRunner(
        consumer=consumer, engine=engine, publisher=publisher, handler=counting_handler(schema, delay_s), config=config
    )


@contextlib.asynccontextmanager
async def running(
    *, bootstrap: str, database_url: str, topic: str, group: str, schema: str, delay_s: float = 0.0
) -> AsyncIterator[AsyncEngine]:
    """A counting runner consuming ``topic`` in the background while the block runs."""
    engine = make_engine(database_url)
    await prepare(engine, schema)
    producer = make_producer(bootstrap)
    await producer.start()
    consumer, runner = build_runner(
        bootstrap=bootstrap,
        engine=engine,
        publisher=KafkaPublisher(producer, source="test/counter"),
        topic=topic,
        group=group,
        schema=schema,
        delay_s=delay_s,
    )
    stop = asyncio.Event()
    await consumer.start()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield engine
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        await consumer.stop()
        await producer.stop()
        await engine.dispose()


async def main(bootstrap: str, database_url: str, topic: str, group: str, schema: str, delay_s: float) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with running(
        bootstrap=bootstrap, database_url=database_url, topic=topic, group=group, schema=schema, delay_s=delay_s
    ):
        await stop.wait()


if __name__ == "__main__":
    b, d, t, g, s, delay = sys.argv[1:7]
    asyncio.run(main(b, d, t, g, s, float(delay)))
