"""Mail goes out when the work is committed, not at the loops' next look: a notify whose loops look
for work only once an hour (the fallback) still sends a mail the moment its command is recorded,
whether this process recorded it or another replica did (Postgres LISTEN/NOTIFY on commit)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from notify_harness import email_command, eventually
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from touchline.notify.adapters.pg_repository import PgRepository
from touchline.notify.main import build_app
from touchline.notify.settings import NotifySettings
from touchline.notify.state import NotifyState
from touchline.shared import topics
from touchline.shared.cloudevents import encode
from touchline.shared.kafka import make_producer
from touchline.shared.messages import Message, ProductEvent
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.smtp_sink import MailSink
from touchline.shared.stack.testing import discard, isolated

AN_HOUR = 3600.0


@dataclass
class Sleepy:
    common: CommonSettings
    app: FastAPI
    sink: MailSink

    @property
    def state(self) -> NotifyState:
        return self.app.state.notify  # type: ignore[no-any-return]

    async def publish(self, topic: topics.Topic, *messages: Message) -> None:
        producer = make_producer(self.common.kafka_bootstrap_servers)
        await producer.start()
        try:
            for m in messages:
                key, value, headers = encode(m, source="touchline/test")
                await producer.send_and_wait(
                    topics.name(topic, self.common.topic_prefix), value=value, key=key, headers=headers
                )
        finally:
            await producer.stop()


@pytest.fixture
async def sleepy(common: CommonSettings) -> AsyncIterator[Sleepy]:
    """notify on a database of its own, its loops looking for work once an hour unless woken."""
    url, prefix = await isolated(common.kafka_bootstrap_servers, common.database_url, tag="w")
    own = common.model_copy(update={"database_url": url, "topic_prefix": prefix})
    sink = MailSink().start()
    settings = NotifySettings(
        smtp_port=sink.port, public_url="http://notify.test", poll_seconds=AN_HOUR, listen_poll_seconds=AN_HOUR
    )
    app = build_app(own, settings)
    try:
        async with app.router.lifespan_context(app):
            await eventually(lambda: app.state.notify.loops.listening, what="the wake-up connection listening")
            yield Sleepy(own, app, sink)
    finally:
        sink.stop()
        await discard(database_url=url, bootstrap_servers=own.kafka_bootstrap_servers, topic_prefix=prefix)


def _identify(account: str, address: str) -> ProductEvent:
    now = datetime.now(UTC)
    return ProductEvent(
        message_id=str(uuid.uuid4()), account_id=account, kind="identify", user_id="u1",
        traits={"email": address, "locale": "en"}, timestamp=now, received_at=now,
    )  # fmt: skip


def _mails_to(sink: MailSink, address: str) -> list[object]:
    return [m for m in sink.messages() if address in str(m["To"])]


async def test_a_recorded_command_is_mailed_and_its_outcome_published_without_waiting_for_a_poll(sleepy: Sleepy):
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await sleepy.publish(topics.EVENTS, _identify(account, address))
    await sleepy.publish(topics.COMMANDS, email_command(account))
    await eventually(lambda: _mails_to(sleepy.sink, address), what="the mail in the sink", seconds=60)

    async def published() -> bool:
        async with sleepy.state.engine.connect() as conn:
            waiting = await conn.scalar(text("SELECT count(*) FROM notify.outbox WHERE published_at IS NULL"))
            sent = await conn.scalar(text("SELECT count(*) FROM notify.deliveries WHERE state = 'sent'"))
        return waiting == 0 and sent == 1

    await eventually(published, what="email.sent published by the woken relay", seconds=60)


async def test_a_delivery_another_replica_commits_wakes_this_one(sleepy: Sleepy):
    """Another process's transaction (its own engine and connection) stores a pending delivery:
    this process's mail loop hears of it at commit and sends it."""
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await sleepy.publish(topics.EVENTS, _identify(account, address))
    await sleepy.publish(topics.COMMANDS, email_command(account, command_id="first"))
    await eventually(lambda: _mails_to(sleepy.sink, address), what="the first mail", seconds=60)
    async with sleepy.state.engine.connect() as conn:
        first = (await conn.execute(text("SELECT * FROM notify.deliveries"))).mappings().one()
    replica = create_async_engine(sleepy.common.database_url)
    try:
        mail = ("account_id", "user_id", "email", "to_name", "locale", "template", "internal", "subject", "html")
        delivery = {
            **{k: first[k] for k in (*mail, "body_text", "unsubscribe_url")}, "id": str(uuid.uuid4()),
            "command_id": "second", "dedup_key": "second", "message_id": f"<{uuid.uuid4()}@touchline.invalid>",
            "created_at": datetime.now(UTC),
        }  # fmt: skip
        async with replica.begin() as conn:
            assert await PgRepository(conn).insert_delivery(delivery)
    finally:
        await replica.dispose()
    await eventually(lambda: len(_mails_to(sleepy.sink, address)) == 2, what="the second mail", seconds=60)
