"""Ingest integration fixtures: the app in-process against the session's Kafka and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from pydantic import SecretStr

from touchline.ingest.main import build_app
from touchline.ingest.settings import IngestSettings
from touchline.shared import topics
from touchline.shared.cloudevents import Envelope, decode_record
from touchline.shared.settings import CommonSettings

WRITE_KEY = "dev-ingest-product-key"
BACKFILL_KEY = "dev-ingest-backfill-key"
ROTATED_KEY = "dev-ingest-rotated-key"
WRITE_KEYS = f"product:{WRITE_KEY},backfill:{BACKFILL_KEY},product:{ROTATED_KEY}"
NO_AUTH = httpx.Auth()  # a request without the client's default Basic credentials


@dataclass
class Ingest:
    app: FastAPI
    client: httpx.AsyncClient
    common: CommonSettings


def ingest_settings(**overrides: Any) -> IngestSettings:
    return IngestSettings(write_keys=SecretStr(WRITE_KEYS), **overrides)


async def wait_until(predicate: Any, *, what: str, seconds: float = 20.0) -> None:
    """Poll a condition that must become true (a bound against hangs, not a timing assertion)."""
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@contextlib.asynccontextmanager
async def running(common: CommonSettings, settings: IngestSettings, *, connected: bool = True) -> AsyncIterator[Ingest]:
    app = build_app(common, settings)
    async with app.router.lifespan_context(app):
        if connected:
            holder = app.state.holder
            await wait_until(lambda: holder["connection"].producer is not None, what="ingest connected to Kafka")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", auth=(WRITE_KEY, "")) as client:
            yield Ingest(app=app, client=client, common=common)


@pytest.fixture(scope="session")
async def ingest(common: CommonSettings) -> AsyncIterator[Ingest]:
    async with running(common, ingest_settings()) as app:
        yield app


async def events_for(common: CommonSettings, account_id: str) -> list[Envelope]:
    """Every event on the events topic keyed by ``account_id``, in partition order."""
    topic = topics.name(topics.EVENTS, common.topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=common.kafka_bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(topics.EVENTS.partitions)]
        consumer.assign(parts)
        end = await consumer.end_offsets(parts)
        found: list[Envelope] = []
        pending = {tp for tp in parts if end[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    if r.key == account_id.encode():
                        found.append(decode_record(r))
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        return found
    finally:
        await consumer.stop()


def headers_of(envelope: Envelope) -> dict[str, str]:
    return {"id": envelope.id, "source": envelope.source, "type": envelope.type}
