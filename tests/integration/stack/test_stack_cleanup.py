"""A test session's database and topics are dropped at its end (real Postgres and broker)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from touchline.shared.kafka import create_topics
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.testing import asyncpg_dsn, delete_topics, discard, fresh_database, with_database


async def _databases(url: str) -> set[str]:
    connection = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        return {r["datname"] for r in await connection.fetch("SELECT datname FROM pg_database")}
    finally:
        await connection.close()


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_discard_drops_the_database_even_while_connected_and_only_the_prefixed_topics(
    common: CommonSettings,
) -> None:
    url = await fresh_database(common.database_url)
    name = url.rsplit("/", 1)[1].split("?")[0]
    prefix = f"x{uuid.uuid4().hex[:8]}."
    await create_topics(common.kafka_bootstrap_servers, prefix=prefix)
    still_open = await asyncpg.connect(asyncpg_dsn(url))  # a service that did not close its pool
    try:
        await discard(database_url=url, bootstrap_servers=common.kafka_bootstrap_servers, topic_prefix=prefix)
    finally:
        await still_open.close()
    assert name not in await _databases(common.database_url)
    left = await _topics(common.kafka_bootstrap_servers)
    assert not {t for t in left if t.startswith(prefix)}
    assert {t for t in left if t.startswith(common.topic_prefix)}, "this session's own topics stay"


async def test_deleting_topics_without_a_prefix_is_refused(common: CommonSettings) -> None:
    with pytest.raises(ValueError, match="without a prefix"):
        await delete_topics(common.kafka_bootstrap_servers, "")
