"""notify: commands -> mails in an SMTP sink, end to end (Kafka, Postgres, SMTP), vs raw SMTP sends.

Run: .venv/bin/python bench/notify_mail_throughput.py [N ...]   (default: 500 5000; 0: idle latency only)

First, the idle latency: one command at a time (20), broker ack -> mail stored, with the loops woken
at commit (LISTEN/NOTIFY) and, as the baseline in the same run, polling every 0.5 s as before.

The sink is the local stack's (``touchline.shared.stack.smtp_sink``) in a process of its own, as an
SMTP server is in a deployment; a mail counts once the sink has stored it (its index line).
Baselines printed beside the figure, measured in the same run against the same sink with the same
mails (notify's own rendering of the welcome mail, one Message-ID each), built before the clock
starts so only the sending counts:
- "aiosmtplib straight": ``aiosmtplib.send`` one mail after another, one connection per mail (the
  issue's baseline, and the target: notify >= 0.8 x this);
- "one reused connection": one connection, the mails one after another on it (what a single
  connection can do at best, for scale).
notify's figure includes everything it does: consume the commands, render and record the
deliveries, claim, send, record each result and publish the outcomes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from sqlalchemy import text

from touchline.notify.compose import Composer, template_context
from touchline.notify.delivery import mail_for
from touchline.notify.domain.email import Contact, Recipient
from touchline.notify.main import build_app
from touchline.notify.settings import NotifySettings
from touchline.notify.templates import Catalog
from touchline.shared import topics
from touchline.shared.cloudevents import encode
from touchline.shared.kafka import make_producer
from touchline.shared.messages import Command, ProductEvent, Recipients
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import free_port, port_open
from touchline.shared.stack.testing import discard, ensure_infra, isolated

HOME = Path(__file__).resolve().parents[1] / ".touchline"


class SinkProcess:
    """The local stack's SMTP sink in its own process; counts what it stored."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.host = "127.0.0.1"
        argv = [sys.executable, "-m", "touchline.shared.stack.smtp_sink", "--port", str(self.port)]
        self.process = subprocess.Popen([*argv, "--dir", str(directory)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the smtp sink did not start")
            time.sleep(0.05)

    def stored(self) -> int:
        index = self.directory / "index.jsonl"
        return index.read_bytes().count(b"\n") if index.exists() else 0

    async def wait_for(self, count: int) -> None:
        while self.stored() < count:  # noqa: ASYNC110 (another process writes the file)
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def sample_mails(n: int, settings: NotifySettings) -> list[EmailMessage]:
    """n welcome mails as notify renders them, each with its own Message-ID."""
    composer = Composer(
        catalog=Catalog.load(settings.templates),
        public_url=settings.public_url,
        link_secret=settings.link_secret.get_secret_value(),
        mail_from=settings.mail_from,
        default_locale=settings.default_locale,
        brand=settings.brand,
    )
    now = datetime.now(UTC)
    mails = []
    for i in range(n):
        recipient = Recipient(email=f"base{i}@c.test", name=None, locale="en", user_id="u")
        context = template_context(
            account=None, account_id=f"acct-{i}", contact=Contact("u", recipient.email, None), variables={},
            brand=composer.brand,
        )  # fmt: skip
        did = str(uuid.uuid4())
        source = {"command_id": did, "dedup_key": did, "account_id": f"acct-{i}"}
        row = composer.delivery_row(
            delivery_id=did, template="onboarding.welcome", recipient=recipient, context=context, now=now, source=source
        )
        mails.append(mail_for(row, mail_from=settings.mail_from, now=now))
    return mails


async def one_connection_per_mail(sink: SinkProcess, mails: list[EmailMessage]) -> float:
    before = sink.stored()
    start = time.perf_counter()
    for mail in mails:
        await aiosmtplib.send(mail, hostname=sink.host, port=sink.port)
    await sink.wait_for(before + len(mails))
    return time.perf_counter() - start


async def one_reused_connection(sink: SinkProcess, mails: list[EmailMessage]) -> float:
    before = sink.stored()
    start = time.perf_counter()
    async with aiosmtplib.SMTP(hostname=sink.host, port=sink.port) as smtp:
        for mail in mails:
            await smtp.send_message(mail)
    await sink.wait_for(before + len(mails))
    return time.perf_counter() - start


async def through_notify(sink: SinkProcess, n: int, infra_servers: str, database_url: str) -> tuple[float, float]:
    """(seconds until every command was recorded as a delivery, seconds until every mail was stored)."""
    url, prefix = await isolated(infra_servers, database_url, tag="b")
    common = CommonSettings(env="test", kafka_bootstrap_servers=infra_servers, database_url=url, topic_prefix=prefix)
    app = build_app(common, NotifySettings(smtp_host=sink.host, smtp_port=sink.port))
    producer = make_producer(infra_servers)
    await producer.start()
    try:
        async with app.router.lifespan_context(app):
            now = datetime.now(UTC)
            accounts = [str(uuid.uuid4()) for _ in range(n)]
            for a in accounts:
                event = ProductEvent(message_id=str(uuid.uuid4()), account_id=a, kind="identify", user_id="u",
                                     traits={"email": f"{a[:8]}@c.test"}, timestamp=now, received_at=now)  # fmt: skip
                key, value, headers = encode(event, source="bench")
                await producer.send(topics.name(topics.EVENTS, prefix), value=value, key=key, headers=headers)
            await producer.flush()
            engine = app.state.notify.engine
            while True:  # the directory first; not part of the measured window
                async with engine.connect() as conn:
                    if await conn.scalar(text("SELECT count(*) FROM notify.contacts")) >= n:
                        break
                await asyncio.sleep(0.1)
            before = sink.stored()
            start = time.perf_counter()
            for a in accounts:
                cid = str(uuid.uuid4())
                cmd = Command(command_id=cid, account_id=a, channel="email", template="onboarding.welcome",
                              dedup_key=cid, issued_at=now, recipients=Recipients(role="contacts"))  # fmt: skip
                key, value, headers = encode(cmd, source="bench")
                await producer.send(topics.name(topics.COMMANDS, prefix), value=value, key=key, headers=headers)
            await producer.flush()
            recorded_at = None
            while sink.stored() - before < n:
                if recorded_at is None:
                    async with engine.connect() as conn:
                        if await conn.scalar(text("SELECT count(*) FROM notify.deliveries")) >= n:
                            recorded_at = time.perf_counter() - start
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - start
    finally:
        await producer.stop()
        await discard(database_url=url, bootstrap_servers=infra_servers, topic_prefix=prefix)
    return recorded_at or elapsed, elapsed


async def idle_latency(
    sink: SinkProcess, infra_servers: str, database_url: str, *, listen: bool, n: int
) -> list[float]:
    """One command at a time on an idle notify: seconds from the command's broker ack to the mail
    stored by the sink. ``listen`` off is the loops polling every poll_seconds (0.5), as before."""
    url, prefix = await isolated(infra_servers, database_url, tag="b")
    common = CommonSettings(env="test", kafka_bootstrap_servers=infra_servers, database_url=url, topic_prefix=prefix)
    app = build_app(common, NotifySettings(smtp_host=sink.host, smtp_port=sink.port, loops_listen=listen))
    producer = make_producer(infra_servers)
    await producer.start()
    latencies = []
    try:
        async with app.router.lifespan_context(app):
            now = datetime.now(UTC)
            account = str(uuid.uuid4())
            event = ProductEvent(message_id=str(uuid.uuid4()), account_id=account, kind="identify", user_id="u",
                                 traits={"email": f"{account[:8]}@c.test"}, timestamp=now, received_at=now)  # fmt: skip
            key, value, headers = encode(event, source="bench")
            await producer.send_and_wait(topics.name(topics.EVENTS, prefix), value=value, key=key, headers=headers)
            await asyncio.sleep(3)  # the contact known, every loop idle
            for _ in range(n):
                cid = str(uuid.uuid4())
                cmd = Command(command_id=cid, account_id=account, channel="email", template="onboarding.welcome",
                              dedup_key=cid, issued_at=now, recipients=Recipients(role="contacts"))  # fmt: skip
                key, value, headers = encode(cmd, source="bench")
                before = sink.stored()
                await producer.send_and_wait(
                    topics.name(topics.COMMANDS, prefix), value=value, key=key, headers=headers
                )
                sent = time.perf_counter()
                await sink.wait_for(before + 1)
                latencies.append(time.perf_counter() - sent)
                await asyncio.sleep(0.3 + (len(latencies) % 5) * 0.1)  # idle again, at varied phases of a poll
    finally:
        await producer.stop()
        await discard(database_url=url, bootstrap_servers=infra_servers, topic_prefix=prefix)
    return sorted(latencies)


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def main(sizes: list[int]) -> None:
    infra = ensure_infra(HOME)
    settings = NotifySettings()
    with tempfile.TemporaryDirectory(prefix="notify-bench-") as folder:
        sink = SinkProcess(Path(folder))
        try:
            woken = await idle_latency(sink, infra.bootstrap_servers, infra.database_url, listen=True, n=20)
            polled = await idle_latency(sink, infra.bootstrap_servers, infra.database_url, listen=False, n=20)
            print("== idle: one command at a time, broker ack -> mail stored (s), 20 each, same run")
            for label, values in (("woken at commit (LISTEN/NOTIFY)", woken), ("polling every 0.5 s (before)", polled)):
                print(f"  {label:<34} p50 {_quantile(values, 0.5):.3f}  p95 {_quantile(values, 0.95):.3f}  "
                      f"max {values[-1]:.3f}")  # fmt: skip
            for n in (n for n in sizes if n > 0):
                mails = sample_mails(n, settings)
                straight = await one_connection_per_mail(sink, mails)
                reused = await one_reused_connection(sink, sample_mails(n, settings))
                recorded, elapsed = await through_notify(sink, n, infra.bootstrap_servers, infra.database_url)
                ratio = (n / elapsed) / (n / straight)
                print(f"== {n} mails (welcome mail, {len(mails[0].as_bytes()):,} bytes each), sink in its own process")
                print(
                    f"  notify end to end: {n / elapsed:6.0f} mails/s ({elapsed:.2f}s; all recorded after {recorded:.2f}s)"
                )
                print(f"  baseline aiosmtplib straight, one connection per mail: {n / straight:6.0f} mails/s "
                      f"({straight:.2f}s)  -> ratio {ratio:.2f} (target >= 0.8)")  # fmt: skip
                print(f"  for scale, one reused connection: {n / reused:6.0f} mails/s ({reused:.2f}s)")
        finally:
            sink.stop()


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [500, 5000]))
