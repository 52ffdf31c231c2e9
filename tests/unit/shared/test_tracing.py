"""Tracing: off without an endpoint; the W3C context rides the CloudEvents tracing extension."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from touchline.ingest.adapters.kafka import encode as encode_event
from touchline.ingest.api import IngestApp, IngestState, router
from touchline.ingest.auth import WriteKeys
from touchline.ingest.domain import Limits, TimePolicy
from touchline.ingest.handlers import Ports
from touchline.ingest.ratelimit import RateLimiter
from touchline.ingest.semantics import EventDoc
from touchline.shared.cloudevents import decode, encode
from touchline.shared.messages import ClockSet
from touchline.shared.settings import CommonSettings
from touchline.shared.tracing import Tracing, from_settings, trace_by_key

NOW = datetime(2027, 3, 1, tzinfo=UTC)
PARENT = f"00-{'a' * 32}-{'b' * 16}-01"


def in_memory(service: str) -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider, service=service), exporter


def test_tracing_is_off_without_an_otlp_endpoint() -> None:
    assert from_settings(CommonSettings(env="test"), service="health") is None


def test_an_otlp_endpoint_turns_tracing_on_and_spans_are_posted_to_its_traces_path() -> None:
    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, self.headers["content-type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        tracing = from_settings(CommonSettings(env="test", otel_exporter_otlp_endpoint=endpoint), service="touch")
        assert tracing is not None
        assert tracing.provider.resource.attributes["service.name"] == "touchline-touch"
        tracing.tracer.start_span("a span").end()
        tracing.shutdown()  # flushes the batch
    finally:
        server.shutdown()
        server.server_close()
    [(path, content_type, body)] = received
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    assert b"touchline-touch" in body and b"a span" in body


def test_traceparent_and_tracestate_travel_as_cloudevents_extension_headers() -> None:
    message = ClockSet(now=NOW)
    trace = [("ce_traceparent", PARENT.encode()), ("ce_tracestate", b"k=v")]
    key, value, headers = encode(message, source="t", trace=trace)
    env = decode(topic="clock", partition=0, offset=0, key=key, value=value, headers=headers)
    assert (env.traceparent, env.tracestate) == (PARENT, "k=v")
    _, _, plain = encode(message, source="t")
    assert decode(topic="clock", partition=0, offset=0, key=key, value=value, headers=plain).traceparent is None


def test_a_consumer_span_is_the_child_of_its_records_context_and_handed_on() -> None:
    tracing, exporter = in_memory("health")
    _, value, headers = encode(ClockSet(now=NOW), source="t", trace=[("ce_traceparent", PARENT.encode())])
    traced = decode(topic="events", partition=2, offset=7, key=b"acme", value=value, headers=headers)
    untraced = decode(topic="events", partition=2, offset=8, key=b"other", value=value, headers=headers[:-1])
    spans = tracing.consuming([traced, untraced], group="health")
    spans.end()
    child, root = exporter.get_finished_spans()
    assert child.kind == SpanKind.CONSUMER
    assert child.parent is not None and child.parent.span_id == int("b" * 16, 16)
    assert child.context.trace_id == int("a" * 32, 16)
    assert root.parent is None  # a record without context starts a trace
    handed = spans.envelopes[0].traceparent
    assert handed == f"00-{'a' * 32}-{child.context.span_id:016x}-01"
    by_key = trace_by_key(spans.envelopes)
    assert by_key["acme"] == [("ce_traceparent", handed.encode())]
    assert by_key["other"][0][1].decode().split("-")[1] == f"{root.context.trace_id:032x}"


def test_without_a_trace_context_nothing_is_carried_on() -> None:
    _, value, headers = encode(ClockSet(now=NOW), source="t")
    env = decode(topic="events", partition=0, offset=0, key=b"acme", value=value, headers=headers)
    assert trace_by_key([env]) == {}


class Publisher:
    def __init__(self, tracing: Tracing) -> None:
        self.tracing = tracing
        self.headers: list[list[tuple[str, bytes]]] = []

    async def publish(self, events: Sequence[EventDoc]) -> None:
        # What adapters.kafka.KafkaEventPublisher adds to each record it encodes.
        self.headers += [encode_event(e, self.tracing.current_headers())[2] for e in events]


async def test_an_ingest_request_is_a_server_span_whose_context_its_events_carry() -> None:
    tracing, exporter = in_memory("ingest")
    publisher = Publisher(tracing)
    state = IngestState(
        keys=WriteKeys.parse("product:k"),
        limiter=RateLimiter(rate=1000, burst=1000),
        limits=Limits(),
        policy=TimePolicy(),
        retry_after=5,
        now=lambda: NOW,
        ports=Ports(identities=_NoUsers(), publisher=publisher),  # type: ignore[arg-type]
        tracing=tracing,
    )
    ingest = IngestApp()
    ingest.state.ingest = state
    ingest.include_router(router(lambda: state))
    body = {"batch": [{"type": "track", "userId": "u", "event": "E", "context": {"groupId": "acme"}}]}
    transport = httpx.ASGITransport(app=ingest)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", auth=("k", "")) as client:
        response = await client.post("/v1/batch", json=body, headers={"traceparent": PARENT})
    assert response.status_code == 200, response.text
    [span] = exporter.get_finished_spans()
    assert span.kind == SpanKind.SERVER and span.name == "POST /v1/batch"
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 200
    assert span.parent is not None and span.parent.span_id == int("b" * 16, 16)  # the caller's trace continues
    [headers] = publisher.headers
    assert ("ce_traceparent", f"00-{'a' * 32}-{span.context.span_id:016x}-01".encode()) in headers


class _NoUsers:
    async def accounts(self, keys: Sequence[str]) -> dict[str, str]:
        return {}
