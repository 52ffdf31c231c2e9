"""kill -9 of a notify process while it talks to a slow SMTP server loses no mail.

Every accepted mail arrives after notify is restarted; a mail whose fate the crash left unknown
is sent again with the same Message-ID, which the sink (like a receiving MTA) deduplicates on.
The process gets a database and topics of its own, so no other notify (the in-process fixture
of the other tests) claims its deliveries.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from notify_harness import email_command, eventually
from sqlalchemy import text

from touchline.shared import topics
from touchline.shared.cloudevents import encode
from touchline.shared.db import make_engine
from touchline.shared.messages import Message, ProductEvent
from touchline.shared.stack.layout import free_port
from touchline.shared.stack.smtp_sink import MailSink
from touchline.shared.stack.testing import discard, isolated

MAILS = 12


@pytest.fixture
async def own_state(infra: Any) -> AsyncIterator[tuple[str, str]]:
    database_url, prefix = await isolated(infra.bootstrap_servers, infra.database_url, tag="crash")
    yield database_url, prefix
    await discard(database_url=database_url, bootstrap_servers=infra.bootstrap_servers, topic_prefix=prefix)


@pytest.fixture
def slow_sink() -> Iterator[MailSink]:
    with MailSink(delay_seconds=0.5) as sink:
        yield sink


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "touchline.shared.cli", "notify"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def _publish(bootstrap: str, prefix: str, topic: topics.Topic, messages: list[Message]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for m in messages:
            key, value, headers = encode(m, source="touchline/test")
            await producer.send_and_wait(topics.name(topic, prefix), value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def _directory(account: str, address: str) -> list[Message]:
    now = datetime.now(UTC)
    return [
        ProductEvent(
            message_id=str(uuid.uuid4()), account_id=account, kind="group", traits={"name": "Acme", "locale": "en"},
            timestamp=now, received_at=now,
        ),
        ProductEvent(
            message_id=str(uuid.uuid4()), account_id=account, kind="identify", user_id="u1",
            traits={"email": address, "name": "Ana", "locale": "en", "role": "admin"}, timestamp=now, received_at=now,
        ),
    ]  # fmt: skip


async def test_mails_in_flight_when_notify_is_killed_arrive_after_restart_with_their_message_id(
    env_for_subprocess: dict[str, str], own_state: tuple[str, str], slow_sink: MailSink, infra: Any, tmp_path: Path
) -> None:
    database_url, prefix = own_state
    port = free_port()
    env = {
        **env_for_subprocess,
        "TOUCHLINE_DATABASE_URL": database_url,
        "TOUCHLINE_TOPIC_PREFIX": prefix,
        "TOUCHLINE_CLOCK": "system",
        "TOUCHLINE_NOTIFY_PORT": str(port),
        "TOUCHLINE_NOTIFY_SMTP_HOST": slow_sink.host,
        "TOUCHLINE_NOTIFY_SMTP_PORT": str(slow_sink.port),
        "TOUCHLINE_NOTIFY_SMTP_CONCURRENCY": "4",
        "TOUCHLINE_NOTIFY_POLL_SECONDS": "0.1",
        # Above one SMTP conversation with this sink (0.5 s), short enough for a test to wait out.
        "TOUCHLINE_NOTIFY_SENDING_LEASE_SECONDS": "3",
    }
    accounts = [f"acct-{uuid.uuid4().hex[:8]}" for _ in range(MAILS)]
    addresses = {a: f"{a}@customer.test" for a in accounts}
    events = [e for a in accounts for e in _directory(a, addresses[a])]
    await _publish(infra.bootstrap_servers, prefix, topics.EVENTS, events)

    engine = make_engine(database_url)
    log = tmp_path / "notify.log"
    process = _start(env, log)
    try:

        async def states() -> dict[str, int]:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT state, count(*) AS n FROM notify.deliveries GROUP BY state"))
                return {r.state: r.n for r in rows}

        async def contacts_known() -> bool:
            async with engine.connect() as conn:
                return await conn.scalar(text("SELECT count(*) FROM notify.contacts")) == MAILS  # type: ignore[no-any-return]

        await eventually(contacts_known, what="the directory built", seconds=60)
        await _publish(infra.bootstrap_servers, prefix, topics.COMMANDS, [email_command(a) for a in accounts])

        async def mid_sending() -> bool:
            """A mail the server has taken while notify still waits for its answer: the kill
            then leaves its fate unknown to notify (the case that used to lose it)."""
            if process.poll() is not None:
                raise AssertionError(f"notify exited: {log.read_text()[-3000:]}")
            taken = {str(m["Message-ID"]) for m in slow_sink.messages()}
            async with engine.connect() as conn:
                rows = list(await conn.execute(text("SELECT message_id, state FROM notify.deliveries")))
            # Every delivery recorded first, so the kill also catches some still waiting their turn.
            return len(rows) == MAILS and any(r.state == "sending" and r.message_id in taken for r in rows)

        await eventually(mid_sending, what="a mail taken by the server but not yet answered", seconds=60)
        process.kill()
        process.wait()
        killed_while = await states()
        assert killed_while.get("sending", 0) > 0

        process = _start(env, log)

        async def all_sent() -> bool:
            return await states() == {"sent": MAILS}

        await eventually(all_sent, what="every delivery sent after the restart", seconds=90)
        async with engine.connect() as conn:
            ids = {r.message_id for r in await conn.execute(text("SELECT message_id FROM notify.deliveries"))}
        received = [m["Message-ID"] for m in slow_sink.messages()]
        print(f"at the kill: {killed_while}; copies the sink dropped: {len(slow_sink.duplicates())}")
        assert sorted(received) == sorted(ids)  # every mail, once each after deduplication
        # The mail taken before the kill came again after it, under its own Message-ID.
        assert slow_sink.duplicates() and set(slow_sink.duplicates()) <= ids
        assert {str(m["To"]).split("<")[-1].rstrip(">") for m in slow_sink.messages()} == set(addresses.values())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, what="the restarted notify ready")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await engine.dispose()
        await asyncio.sleep(0)
