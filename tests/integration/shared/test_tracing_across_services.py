"""One request's trace runs from ingest's HTTP request through health, touch and notify to the SMTP send.

The four services run in-process (their real apps, consumers and delivery loop) on the session's
Kafka and Postgres server, with a database and topics of their own (the session's database holds
every earlier test's accounts: health's decay sweep and touch's timers would work through all of
them first), each exporting to one in-memory exporter under its own service name, as four
processes exporting to one collector would.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

from touchline.health.main import build_app as health_app
from touchline.health.settings import HealthSettings
from touchline.ingest.main import build_app as ingest_app
from touchline.ingest.settings import IngestSettings
from touchline.notify.main import build_app as notify_app
from touchline.notify.settings import NotifySettings
from touchline.shared.admin import publish_clock
from touchline.shared.messages import Command, HealthScored
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.smtp_sink import MailSink
from touchline.shared.stack.testing import discard, isolated
from touchline.shared.tracing import Tracing
from touchline.touch.main import build_app as touch_app
from touchline.touch.settings import TouchSettings

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
WRITE_KEY = "tracing-write-key"


def traced(service: str, exporter: InMemorySpanExporter) -> Tracing:
    provider = TracerProvider(resource=Resource.create({"service.name": f"touchline-{service}"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider, service=service)


async def until(
    probe: Callable[[], Any], *, what: str, seconds: float = 90.0, seen: Callable[[], object] = lambda: ""
) -> Any:
    """Poll ``probe`` (a bound against hangs, not a timing assertion); ``seen`` says how far things got."""
    for _ in range(int(seconds / 0.05)):
        if value := probe():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}; so far: {seen()}")


def service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"]).removeprefix("touchline-")


def _of(span: ReadableSpan, account: str) -> bool:
    return (span.attributes or {}).get("touchline.account_id") == account


def event_type(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("cloudevents.event_type", ""))


async def test_one_request_is_one_trace_from_ingest_through_health_touch_and_notify_to_the_smtp_send(
    common: CommonSettings,
) -> None:
    database_url, prefix = await isolated(common.kafka_bootstrap_servers, common.database_url, tag="tr")
    mine = common.model_copy(update={"database_url": database_url, "topic_prefix": prefix})
    await publish_clock(mine, T0)
    exporter = InMemorySpanExporter()
    sink = MailSink().start()
    account, user = f"acme-{uuid.uuid4().hex[:6]}", f"u-{uuid.uuid4().hex[:6]}"
    owner = f"owner-{account}@acme.example"
    try:
        async with contextlib.AsyncExitStack() as stack:
            ingest = ingest_app(
                mine, IngestSettings(write_keys=SecretStr(f"product:{WRITE_KEY}")), tracing=traced("ingest", exporter)
            )
            notify_settings = NotifySettings(
                smtp_port=sink.port, public_url="http://notify.test", poll_seconds=0.05, inapp_secret=SecretStr("s")
            )
            apps = [
                ingest,
                health_app(mine, HealthSettings(), tracing=traced("health", exporter)),
                touch_app(mine, TouchSettings(), tracing=traced("touch", exporter)),
                notify_app(mine, notify_settings, tracing=traced("notify", exporter)),
            ]
            for app in apps:
                await stack.enter_async_context(app.router.lifespan_context(app))
            await until(lambda: ingest.state.holder["connection"].producer is not None, what="ingest connected")

            calls = [
                {
                    "type": "group",
                    "userId": user,
                    "groupId": account,
                    "traits": {
                        "name": "Acme",
                        "plan": "pro",
                        "arr": 12000,
                        "csm_owner": "csm@example.com",
                        "lifecycle_stage": "onboarding",
                        "signed_at": T0.isoformat(),
                    },
                    "timestamp": T0.isoformat(),
                },
                {
                    "type": "identify",
                    "userId": user,
                    "traits": {"email": owner, "name": "Aiko", "locale": "en", "role": "admin"},
                    "timestamp": T0.isoformat(),
                },
                {
                    "type": "track",
                    "userId": user,
                    "event": "Contract Signed",
                    "context": {"groupId": account},
                    "timestamp": T0.isoformat(),
                },
            ]
            transport = httpx.ASGITransport(app=ingest)
            async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
                response = await client.post("/v1/batch", json={"batch": calls}, auth=(WRITE_KEY, ""))
            assert response.status_code == 200, response.text

            await until(
                lambda: [m for m in sink.messages() if parseaddr(m["To"])[1] == owner],
                what="the welcome mail sent",
                seen=lambda: sorted({(service(s), s.name) for s in exporter.get_finished_spans()}),
            )
            # The send's span ends once the server answered; the score may reach touch after the mail.
            await until(
                lambda: [s for s in exporter.get_finished_spans() if s.name == "smtp send" and _of(s, account)],
                what="the SMTP span",
            )
            await until(
                lambda: [s for s in exporter.get_finished_spans() if event_type(s) == HealthScored.ce_type],
                what="touch to process the score",
            )
            spans = list(exporter.get_finished_spans())
    finally:
        sink.stop()
        with contextlib.suppress(Exception):
            await discard(
                database_url=database_url, bootstrap_servers=common.kafka_bootstrap_servers, topic_prefix=prefix
            )

    [request] = [s for s in spans if s.kind == SpanKind.SERVER and s.name == "POST /v1/batch"]
    trace_id = request.context.trace_id
    assert service(request) == "ingest" and request.parent is None
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in in_trace}

    def parent(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, span.name
        return by_id[span.parent.span_id]  # the parent is in the same trace, and was exported

    assert {service(s) for s in in_trace} == {"ingest", "health", "touch", "notify"}
    # The mail is this request's doing, and nothing else's: every SMTP send for this account is in
    # its trace (the delivery loop also sends what earlier tests left pending in the shared database).
    sends = [s for s in spans if s.name == "smtp send" and _of(s, account)]
    assert sends and all(s.context.trace_id == trace_id for s in sends)
    # Hop by hop: ingest -> health (events), health -> touch (the score), ingest -> touch (events),
    # touch -> notify (the command), notify -> the SMTP send (later, in the delivery loop).
    health_spans = [s for s in in_trace if service(s) == "health"]
    assert health_spans and all(parent(s) is request for s in health_spans)
    scored = [s for s in in_trace if service(s) == "touch" and event_type(s) == HealthScored.ce_type]
    assert scored and all(service(parent(s)) == "health" for s in scored)
    for send in sends:
        assert service(send) == "notify" and send.kind == SpanKind.CLIENT
        command = parent(send)
        assert service(command) == "notify" and command.kind == SpanKind.CONSUMER
        # The welcome mail's command; or an identify event that released it if it waited for one.
        cause = parent(command)
        assert service(cause) in {"touch", "ingest"}
        if event_type(command) == Command.ce_type:
            assert service(cause) == "touch" and parent(cause) in (request, *health_spans)
