"""Notify integration fixtures: the app in-process against the session's Kafka and Postgres, a real
SMTP sink (aiosmtpd), a real webhook receiver (uvicorn), and a collector of the outcomes topic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI, Request, Response
from pydantic import SecretStr
from sqlalchemy import text

from touchline.notify.delivery import Loops
from touchline.notify.domain.tokens import user_token
from touchline.notify.main import build_app
from touchline.notify.settings import NotifySettings
from touchline.notify.state import NotifyState
from touchline.shared import topics
from touchline.shared.admin import publish_clock
from touchline.shared.cloudevents import decode_record, encode
from touchline.shared.kafka import create_topics
from touchline.shared.messages import Command, Message, Outcome, ProductEvent, Recipients, TaskSpec
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import free_port
from touchline.shared.stack.smtp_sink import MailSink

WEBHOOK_SECRET = "whsec_" + "dG91Y2hsaW5lLXRlc3Qtd2ViaG9vay1zZWNyZXQ="
INAPP_SECRET = "test-inapp-secret"
PRODUCT_ORIGIN = "https://app.product.test"  # the only origin whose pages may call the in-app API


async def eventually(probe: Any, *, what: str, seconds: float = 30.0) -> Any:
    """Poll until ``probe()`` is truthy (a bound against hangs, not a timing assertion)."""
    for _ in range(int(seconds / 0.05)):
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@dataclass
class Receiver:
    """A webhook endpoint that records what it is sent; /gone (and /gone-anything) answers 410."""

    port: int
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path}")
        async def hook(path: str, request: Request) -> Response:
            self.received.append((path, dict(request.headers), await request.body()))
            return Response(status_code=410 if path.startswith("gone") else 204)

        return app


@dataclass
class Notify:
    app: FastAPI
    client: httpx.AsyncClient
    common: CommonSettings
    sink: MailSink
    receiver: Receiver
    outcomes: list[Outcome]
    producer: AIOKafkaProducer

    @property
    def state(self) -> NotifyState:
        return self.app.state.notify  # type: ignore[no-any-return]

    def loops_of_another_instance(self, settings: NotifySettings, poster: Any, **options: Any) -> Loops:
        """The delivery loops an instance configured with ``settings`` would run: same database,
        mailer, publisher and clock as the fixture, its own poster (an HTTP client or a recorder)."""
        return Loops(
            engine=self.state.engine,
            mailer=self.state.loops.mailer,
            poster=poster,
            publisher=self.state.loops.publisher,
            clock=self.state.clock,
            settings=settings,
            **options,
        )

    async def publish(self, topic: topics.Topic, *messages: Message) -> None:
        for m in messages:
            key, value, headers = encode(m, source="touchline/test")
            await self.producer.send_and_wait(
                topics.name(topic, self.common.topic_prefix), value=value, key=key, headers=headers
            )

    async def directory(self, account_id: str, *, owner: str | None = None, **contacts: tuple[str, str]) -> None:
        """group + identify events for an account; contacts as user_id=(email, locale)."""
        now = datetime.now(UTC)
        traits = {"name": f"Account {account_id[:6]}", "locale": "en", **({"csm_owner": owner} if owner else {})}
        events = [
            ProductEvent(
                message_id=str(uuid.uuid4()),
                account_id=account_id,
                kind="group",
                traits=traits,
                timestamp=now,
                received_at=now,
            )
        ]
        for user_id, (address, locale) in contacts.items():
            events.append(
                ProductEvent(
                    message_id=str(uuid.uuid4()), account_id=account_id, kind="identify", user_id=user_id,
                    traits={"email": address, "name": user_id.title(), "locale": locale, "role": "admin"},
                    timestamp=now, received_at=now,
                )
            )  # fmt: skip
        await self.publish(topics.EVENTS, *events)

        async def known() -> bool:
            async with self.state.engine.connect() as conn:
                n = await conn.scalar(
                    text("SELECT count(*) FROM notify.contacts WHERE account_id = :a"), {"a": account_id}
                )
                a = await conn.scalar(
                    text("SELECT count(*) FROM notify.accounts WHERE account_id = :a"), {"a": account_id}
                )
            return n == len(contacts) and a == 1

        await eventually(known, what=f"directory of {account_id}")

    def mails_to(self, address: str) -> list[Any]:
        return [m for m in self.sink.messages() if address in str(m["To"])]

    def outcomes_of(self, account_id: str, kind: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.account_id == account_id and (kind is None or o.kind == kind)]

    async def sql(self, query: str, **params: Any) -> list[Any]:
        async with self.state.engine.connect() as conn:
            return list((await conn.execute(text(query), params)).mappings())


def email_command(account_id: str, template: str = "onboarding.welcome", **kw: Any) -> Command:
    command_id = kw.pop("command_id", str(uuid.uuid4()))
    return Command(
        command_id=command_id, account_id=account_id, channel="email", template=template,
        dedup_key=kw.pop("dedup_key", command_id), issued_at=datetime.now(UTC),
        playbook="onboarding", step="welcome", **kw,
    )  # fmt: skip


def task_command(
    account_id: str, *, type_: str = "renewal_churn_risk", reason: str = "survey unlikely", priority: str = "high"
) -> Command:
    command_id = str(uuid.uuid4())
    return Command(
        command_id=command_id, account_id=account_id, channel="task", dedup_key=command_id,
        issued_at=datetime.now(UTC), playbook="renewal", step="follow_up",
        task=TaskSpec(type=type_, reason=reason, subject=f"Call {account_id[:6]}", priority=priority),  # type: ignore[arg-type]
    )  # fmt: skip


def inapp_command(
    account_id: str, user_ids: list[str], template: str = "advocacy.nps_survey", **variables: Any
) -> Command:
    command_id = str(uuid.uuid4())
    return Command(
        command_id=command_id, account_id=account_id, channel="in_app", template=template, dedup_key=command_id,
        issued_at=datetime.now(UTC), recipients=Recipients(role="user", user_ids=user_ids), variables=variables,
    )  # fmt: skip


async def _collect(common: CommonSettings, into: list[Outcome], stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        topics.name(topics.OUTCOMES, common.topic_prefix),
        bootstrap_servers=common.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for r in records:
                    env = decode_record(r)
                    if isinstance(env.message, Outcome):
                        into.append(env.message)
    finally:
        await consumer.stop()


@pytest.fixture(scope="session")
async def notify(common: CommonSettings) -> AsyncIterator[Notify]:
    receiver = Receiver(port=free_port())
    server = uvicorn.Server(uvicorn.Config(receiver.app(), host="127.0.0.1", port=receiver.port, log_config=None))
    server_task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, what="webhook receiver up")
    sink = MailSink().start()
    settings = NotifySettings(
        smtp_port=sink.port,
        public_url="http://notify.test",
        retry_base_seconds=0.05,
        retry_max_seconds=0.3,
        poll_seconds=0.05,
        inapp_secret=SecretStr(INAPP_SECRET),
        inapp_cap_count=1,
        inapp_allowed_origins=PRODUCT_ORIGIN,
        webhook_urls=[receiver.url("/hook"), receiver.url("/gone")],
        webhook_secret=SecretStr(WEBHOOK_SECRET),
        slack_webhook_url=receiver.url("/slack"),
        task_pools={"tech": ["pool-a@us.test", "pool-b@us.test"]},
    )
    outcomes: list[Outcome] = []
    stop = asyncio.Event()
    collector = asyncio.create_task(_collect(common, outcomes, stop))
    producer = AIOKafkaProducer(bootstrap_servers=common.kafka_bootstrap_servers, acks="all")
    await producer.start()
    app = build_app(common, settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://notify.test") as client:
                yield Notify(app, client, common, sink, receiver, outcomes, producer)
    finally:
        stop.set()
        await collector
        await producer.stop()
        sink.stop()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await server_task


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app that is already running (its lifespan entered) over real HTTP; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, what="http server up")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class StreamClient:
    """One user's open /v1/inapp/stream, its message events collected as they arrive."""

    user: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def templates(self) -> list[str]:
        return [m["template"] for m in self.messages]

    async def read(self, base_url: str) -> None:
        params = {"user": self.user, "token": user_token(INAPP_SECRET, self.user)}
        async with httpx.AsyncClient(base_url=base_url, timeout=None) as client:
            async with client.stream("GET", "/v1/inapp/stream", params=params) as stream:
                assert stream.status_code == 200
                self.connected.set()
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        self.messages.append(json.loads(line.removeprefix("data: ")))


@contextlib.asynccontextmanager
async def streaming(base_url: str, *users: str) -> AsyncIterator[list[StreamClient]]:
    """Connect one stream per user and keep reading them until the block ends."""
    clients = [StreamClient(u) for u in users]
    tasks = [asyncio.create_task(c.read(base_url)) for c in clients]
    try:
        for c in clients:
            await eventually(c.connected.is_set, what=f"stream of {c.user} open")
        yield clients
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def another_instance(notify: Notify, **settings: Any) -> AsyncIterator[Notify]:
    """A second notify process on the same database with its own topics (so its consumer, not the
    fixture's, stores what is published to it), configured like the fixture but for ``settings``.
    While it runs, its outcome relay may publish some of the fixture's outcomes to its own topics."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    common = notify.common.model_copy(update={"topic_prefix": prefix})
    await create_topics(common.kafka_bootstrap_servers, prefix=prefix)
    # Its own topics mean its own clock topic: give it the fixture's time, or it would run on the
    # wall clock while earlier tests have moved the session's simulated clock (an in-app message
    # it stores would then look expired to the fixture's instance).
    now = notify.state.now()
    await publish_clock(common, now)
    app = build_app(common, notify.state.settings.model_copy(update=settings))
    async with app.router.lifespan_context(app):
        await eventually(lambda: app.state.notify.now() == now, what="the second instance on the fixture's clock")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify.test") as client:
            yield Notify(app, client, common, notify.sink, notify.receiver, [], notify.producer)
