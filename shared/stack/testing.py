"""Pytest helpers: the real Kafka and Postgres, reused when running, started when not.

``ensure_infra`` prefers, in order: the ``TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS`` /
``TOUCHLINE_DATABASE_URL`` environment variables, the stack already running in ``home``
(``make up``), and else starts Kafka and Postgres in ``home`` itself, leaving them running
for the next session (``python -m touchline.shared.stack down`` stops them).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from touchline.shared.stack import kafka
from touchline.shared.stack.layout import DATABASE_ENV, KAFKA_ENV, Layout
from touchline.shared.stack.postgres import start_postgres


@dataclass(frozen=True)
class Infra:
    bootstrap_servers: str
    database_url: str  # SQLAlchemy form: postgresql+asyncpg://...


def ensure_infra(home: Path | str | None = None) -> Infra:
    """Kafka and Postgres to test against; see the module docstring for which ones."""
    layout = Layout.at(home)
    with layout.lock():
        bootstrap = os.environ.get(KAFKA_ENV)
        if not bootstrap:
            port, controller_port = kafka.ports_to_use(layout)
            bootstrap = kafka.start_kafka(layout.home, port=port, controller_port=controller_port)
        database_url = os.environ.get(DATABASE_ENV) or start_postgres(layout.home)
    return Infra(bootstrap_servers=bootstrap, database_url=database_url)


def asyncpg_dsn(database_url: str) -> str:
    """The libpq-style DSN asyncpg takes, from a SQLAlchemy URL (``+asyncpg`` dropped)."""
    scheme, rest = database_url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def with_database(database_url: str, database: str) -> str:
    """The same server and options, another database."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def fresh_database(database_url: str) -> str:
    """Create ``tl_test_<hex>`` on the server behind ``database_url`` and return its URL,
    so test sessions running side by side (or beside `make up`) never share state."""
    import asyncpg

    name = f"tl_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(database_url, name)


async def isolated(bootstrap_servers: str, database_url: str, *, tag: str) -> tuple[str, str]:
    """A fresh, migrated database beside ``database_url`` and a fresh topic prefix (``tag`` + hex)
    with every catalogue topic created: what a test session, an e2e stack or a benchmark runs
    on so it shares no state with anything else. Returns (database URL, topic prefix);
    ``discard`` drops both."""
    from touchline.shared.kafka import create_topics
    from touchline.shared.migrate import upgrade_all

    fresh = await fresh_database(database_url)
    prefix = f"{tag}{uuid.uuid4().hex[:8]}."
    await upgrade_all(fresh)
    await create_topics(bootstrap_servers, prefix=prefix)
    return fresh, prefix


async def drop_database(database_url: str) -> None:
    """Drop the database behind ``database_url`` (connections still open are ended): what a
    test session created, so a developer's server does not collect one database per run."""
    import asyncpg

    name = urlsplit(database_url).path.lstrip("/")
    connection = await asyncpg.connect(asyncpg_dsn(with_database(database_url, "postgres")))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def delete_topics(bootstrap_servers: str, prefix: str) -> list[str]:
    """Delete every topic named with ``prefix`` (a test session's own); the names deleted."""
    from aiokafka.admin import AIOKafkaAdminClient

    if not prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        mine = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        if mine:
            await admin.delete_topics(mine)
        return mine
    finally:
        await admin.close()


async def discard(*, database_url: str, bootstrap_servers: str, topic_prefix: str) -> None:
    """Drop a test session's database and topics (see ``fresh_database``)."""
    await drop_database(database_url)
    await delete_topics(bootstrap_servers, topic_prefix)
