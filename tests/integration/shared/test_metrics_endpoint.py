"""A service's /metrics after it consumed real records from the broker: lag per group and
partition, batch size and duration, dead-lettered and skipped records by reason and event age
at commit (health in-process on the session's Kafka and Postgres)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from waiting import eventually

from touchline.health.main import build_app
from touchline.health.settings import HealthSettings
from touchline.shared import topics
from touchline.shared.admin import publish_clock
from touchline.shared.cloudevents import encode
from touchline.shared.messages import ProductEvent
from touchline.shared.settings import CommonSettings

T0 = datetime(2031, 6, 1, 9, tzinfo=UTC)
EVENT_AGE_S = 3600.0
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
async def health(common: CommonSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    # Small batches, so the events below take several batches and the histograms see each.
    app = build_app(common, HealthSettings(max_batch=5, consumers=1))
    async with app.router.lifespan_context(app):
        await publish_clock(common, T0)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def produce(
    common: CommonSettings, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> dict[int, int]:
    """Send to the events topic; return, per partition, the next offset after what was sent."""
    producer = AIOKafkaProducer(bootstrap_servers=common.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        name = topics.name(topics.EVENTS, common.topic_prefix)
        sent = [await producer.send(name, key=k, value=v, headers=h) for k, v, h in records]
        ends: dict[int, int] = {}
        for md in await asyncio.gather(*sent):
            ends[md.partition] = max(ends.get(md.partition, 0), md.offset + 1)
        return ends
    finally:
        await producer.stop()


async def consumed_past(app: FastAPI, ends: dict[tuple[str, int], int]) -> None:
    async def probe() -> bool:
        async with app.state.runtime.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT topic, partition, next_offset FROM health.consumed_offsets WHERE group_id = 'health'")
            )
            stored = {(r.topic, r.partition): r.next_offset for r in rows}
        return all(stored.get(tp, 0) >= end for tp, end in ends.items())

    await eventually(probe, what=f"health consumed past {ends}")


async def topic_ends(common: CommonSettings, subscribed: list[topics.Topic]) -> dict[tuple[str, int], int]:
    """The end offset of every partition of these topics now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap_servers)
    await consumer.start()
    try:
        # The session's topics were created from the catalogue, with its partition counts.
        tps = [TopicPartition(topics.name(t, common.topic_prefix), p) for t in subscribed for p in range(t.partitions)]
        return {(tp.topic, tp.partition): end for tp, end in (await consumer.end_offsets(tps)).items() if end}
    finally:
        await consumer.stop()


async def test_metrics_show_lag_batch_timings_dead_letters_and_event_age_after_consuming(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    app, client = health
    # Earlier tests of the session may have left records for the health group: let it read them
    # first, so what the metrics gain below is what this test sends.
    await consumed_past(app, await topic_ends(common, [topics.EVENTS, topics.OUTCOMES]))
    before = await scrape(client)
    account = f"acct-{uuid.uuid4().hex[:12]}"
    happened = datetime.now(UTC) - timedelta(seconds=EVENT_AGE_S)
    events = [
        ProductEvent(
            message_id=f"{account}-{i}",
            account_id=account,
            kind="track",
            event="Logged In",
            semantic="login",
            user_id="u1",
            timestamp=T0 - timedelta(minutes=i),
            received_at=T0,
        )
        for i in range(12)
    ]
    records = [encode(e, source="touchline/test", time=happened) for e in events]
    records.append(records[0])  # a producer's retry: the same event again, skipped as a duplicate
    # Same key, so the same partition, right after the good ones: a record nobody can read.
    key, _, headers = records[0]
    records.append((key, b"{not json", [(n, v) for n, v in headers if n != "ce_id"] + [("ce_id", b"broken-1")]))
    ends = await produce(common, records)
    assert len(ends) == 1
    [(partition, end)] = ends.items()
    topic = topics.name(topics.EVENTS, common.topic_prefix)
    await consumed_past(app, {(topic, partition): end})
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    group = {"group": "health"}
    assert delta("touchline_dead_lettered_total", topic=topic, reason="unreadable", **group) == 1
    assert delta("touchline_dead_lettered_total", reason="handler_failed", **group) == 0
    assert delta("touchline_skipped_total", reason="duplicate", **group) == 1
    # Each record once, by its fate.
    assert delta("touchline_consumer_records_total", fate="ok", **group) == 12
    assert delta("touchline_consumer_records_total", fate="skipped", reason="duplicate", **group) == 1
    assert delta("touchline_consumer_records_total", fate="dead_lettered", reason="unreadable", **group) == 1
    # Every record of the partition went through a batch, the unreadable one included.
    assert delta("touchline_consumer_batch_records_sum", **group) == len(records)
    batches = delta("touchline_consumer_batch_records_count", **group)
    assert batches >= len(records) / 5
    assert delta("touchline_consumer_batch_duration_seconds_count", **group) == batches
    assert delta("touchline_consumer_batch_duration_seconds_sum", **group) > 0
    # One age per partition and batch, from ce_time: an hour old, and not many hours.
    ages = delta("touchline_event_age_seconds_count", **group)
    assert ages == batches
    assert EVENT_AGE_S <= delta("touchline_event_age_seconds_sum", **group) / ages < 3 * EVENT_AGE_S
    # Consumed to the end: the partition's lag is there, and zero.
    lag_key = (
        "touchline_consumer_lag_records",
        frozenset({**group, "topic": topic, "partition": str(partition)}.items()),
    )
    assert after[lag_key] == 0
    assert end >= len(records)
