"""notify: commands -> mails in an aiosmtpd sink, end to end (Kafka, Postgres, SMTP), vs raw SMTP sends.

Run: .venv/bin/python bench/notify_mail_throughput.py [N]
Baseline printed beside the figure: the same number of mails sent straight with aiosmtplib to the
same sink, one connection per mail (what the delivery loop does), so the difference is notify's cost
(consume, record, claim, mark, publish outcomes).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from sqlalchemy import text

from touchline.notify.main import build_app
from touchline.notify.settings import NotifySettings
from touchline.shared import topics
from touchline.shared.cloudevents import encode
from touchline.shared.kafka import make_producer
from touchline.shared.messages import Command, ProductEvent, Recipients
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.smtp_sink import MailSink
from touchline.shared.stack.testing import ensure_infra, isolated


async def raw_smtp(sink: MailSink, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@b.test", f"raw{i}@c.test", "raw"
        msg.set_content("hello")
        await aiosmtplib.send(msg, hostname=sink.host, port=sink.port)
    return time.perf_counter() - start


HOME = Path(__file__).resolve().parents[1] / ".touchline"


async def main(n: int) -> None:
    infra = ensure_infra(HOME)
    url, prefix = await isolated(infra.bootstrap_servers, infra.database_url, tag="b")
    common = CommonSettings(
        env="test", kafka_bootstrap_servers=infra.bootstrap_servers, database_url=url, topic_prefix=prefix
    )
    sink = MailSink().start()
    baseline = await raw_smtp(sink, n)
    app = build_app(common, NotifySettings(smtp_port=sink.port, poll_seconds=0.05))
    producer = make_producer(infra.bootstrap_servers)
    await producer.start()
    async with app.router.lifespan_context(app):
        now = datetime.now(UTC)
        accounts = [str(uuid.uuid4()) for _ in range(n)]
        for a in accounts:
            event = ProductEvent(message_id=str(uuid.uuid4()), account_id=a, kind="identify", user_id="u",
                                 traits={"email": f"{a[:8]}@c.test"}, timestamp=now, received_at=now)  # fmt: skip
            key, value, headers = encode(event, source="bench")
            await producer.send(topics.name(topics.EVENTS, prefix), value=value, key=key, headers=headers)
        await producer.flush()
        await asyncio.sleep(3)  # directory first; not part of the measured window
        before = len(sink.messages())
        start = time.perf_counter()
        for a in accounts:
            cid = str(uuid.uuid4())
            cmd = Command(command_id=cid, account_id=a, channel="email", template="onboarding.welcome", dedup_key=cid,
                          issued_at=now, recipients=Recipients(role="contacts"))  # fmt: skip
            key, value, headers = encode(cmd, source="bench")
            await producer.send(topics.name(topics.COMMANDS, prefix), value=value, key=key, headers=headers)
        await producer.flush()
        recorded_at = None
        while len(sink.messages()) - before < n:
            if recorded_at is None:
                async with app.state.notify.engine.connect() as conn:
                    count = await conn.scalar(text("SELECT count(*) FROM notify.deliveries"))
                if count >= n:
                    recorded_at = time.perf_counter() - start
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - start
    await producer.stop()
    sink.stop()
    print(f"all {n} commands recorded as pending deliveries after {recorded_at or elapsed:.2f}s")
    print(f"notify end to end: {n} commands -> {n} mails in {elapsed:.2f}s = {n / elapsed:.0f} mails/s")
    print(f"baseline raw SMTP: {n} mails in {baseline:.2f}s = {n / baseline:.0f} mails/s (aiosmtplib, same sink)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
