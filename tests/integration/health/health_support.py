"""Helpers for the health integration tests: produce events, wait for the consumer, read rows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from waiting import eventually

from touchline.shared import topics
from touchline.shared.admin import publish_clock
from touchline.shared.clock import Clock
from touchline.shared.cloudevents import decode_record, encode
from touchline.shared.messages import HealthScored, Message, ProductEvent
from touchline.shared.settings import CommonSettings


async def produce(common: CommonSettings, topic: topics.Topic, messages: list[Message]) -> dict[tuple[str, int], int]:
    """Send and return, per (topic, partition), the next offset after what was sent."""
    producer = AIOKafkaProducer(bootstrap_servers=common.kafka_bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    ends: dict[tuple[str, int], int] = {}
    try:
        futures = []
        for m in messages:
            key, value, headers = encode(m, source="touchline/test")
            futures.append(
                await producer.send(topics.name(topic, common.topic_prefix), value=value, key=key, headers=headers)
            )
        for md in await asyncio.gather(*futures):
            ends[(md.topic, md.partition)] = max(ends.get((md.topic, md.partition), 0), md.offset + 1)
    finally:
        await producer.stop()
    return ends


async def consumed_past(engine: AsyncEngine, ends: dict[tuple[str, int], int], *, timeout: float = 60) -> None:
    """Wait until the health consumer stored offsets at or beyond ``ends``."""

    async def probe() -> bool:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT topic, partition, next_offset FROM health.consumed_offsets WHERE group_id = 'health'")
            )
            stored = {(r.topic, r.partition): r.next_offset for r in rows}
        return all(stored.get(k, 0) >= v for k, v in ends.items())

    await eventually(probe, timeout=timeout, what=f"offsets {ends}")


async def set_clock(common: CommonSettings, clock: Clock | None, when: datetime) -> None:
    await publish_clock(common, when)
    if clock is not None:

        async def probe() -> bool:
            return clock.now() == when

        await eventually(probe, what=f"clock at {when}")


async def account_row(engine: AsyncEngine, account_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    """SELECT account_id, state, score, band, computed_score, measures, as_of, next_aging_at,
                    overridden, scorecard FROM health.accounts WHERE account_id = :a"""
                ),
                {"a": account_id},
            )
        ).first()
    return dict(row._mapping) if row else None


async def history_rows(engine: AsyncEngine, account_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM health.score_history WHERE account_id = :a ORDER BY id"), {"a": account_id}
        )
        return [dict(r._mapping) for r in rows]


async def scored_messages(common: CommonSettings, account_id: str) -> list[HealthScored]:
    """Every HealthScored on the health topic for this account (reads the whole topic once)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        name = topics.name(topics.HEALTH, common.topic_prefix)
        parts = [TopicPartition(name, p) for p in range(topics.HEALTH.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: list[HealthScored] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    if r.key == account_id.encode():
                        env = decode_record(r)
                        assert isinstance(env.message, HealthScored)
                        found.append(env.message)
        return found
    finally:
        await consumer.stop()


def new_account() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}"


def busy_history(account_id: str, *, until: datetime, days: int = 20, seats: int = 2) -> list[Message]:
    """An account that logged in and used five features every day for ``days`` days up to ``until``."""
    start = until - timedelta(days=days - 1)
    out: list[Message] = [
        ProductEvent(
            message_id=f"{account_id}-group",
            account_id=account_id,
            kind="group",
            traits={"seats": seats, "plan": "pro", "roi": 8, "business_shrinking": False},
            timestamp=start,
            received_at=start,
        )
    ]
    for d in range(days):
        at = start + timedelta(days=d)
        for user in ("u1", "u2"):
            out.append(_event(account_id, f"{account_id}-login-{d}-{user}", at, "login", user))
        for f in ("reports", "alerts", "export", "api", "dashboards"):
            out.append(_event(account_id, f"{account_id}-f-{d}-{f}", at, "feature_used", "u1", feature=f))
    return out


def _event(account_id: str, mid: str, at: datetime, semantic: str, user: str, **kw: Any) -> ProductEvent:
    return ProductEvent(
        message_id=mid,
        account_id=account_id,
        kind="track",
        event=semantic,
        semantic=semantic,  # type: ignore[arg-type]
        user_id=user,
        timestamp=at,
        received_at=at,
        **kw,
    )
