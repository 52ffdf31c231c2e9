"""OpenTelemetry tracing across the services, carried in the CloudEvents distributed-tracing extension.

Off unless ``TOUCHLINE_OTEL_EXPORTER_OTLP_ENDPOINT`` is set: then :func:`from_settings` returns
None, no span is ever created, and the hot paths pay one ``is None`` check. When on, the W3C
trace context travels as the ``traceparent`` / ``tracestate`` extension attributes of our
CloudEvents (binary mode on Kafka: the ``ce_traceparent`` / ``ce_tracestate`` headers), so one
event's trace runs from ingest's HTTP request through health, touch and notify to the SMTP send:

- ingest: a server span per request; every event it publishes carries that span's context.
- a consumer (shared ConsumerRunner): a span per record, the child of the record's context; the
  handler sees that span's context in ``Envelope.traceparent``, and a message published for an
  account carries the context of the span of the batch's last record about that account (topics
  are keyed by account, and a batch folds an account's records together).
- notify: the delivery row keeps the command's processing context; the delivery loop's SMTP
  send is a span in that trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .cloudevents import Envelope, Headers
from .settings import CommonSettings

T = TypeVar("T")

TRACEPARENT = "ce_traceparent"
TRACESTATE = "ce_tracestate"
_PROPAGATOR = TraceContextTextMapPropagator()


def from_settings(common: CommonSettings, *, service: str) -> Tracing | None:
    """Tracing exported over OTLP/HTTP when an endpoint is configured, else None (off)."""
    endpoint = common.otel_exporter_otlp_endpoint.strip()
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # Like OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL, the signal's path appended.
    url = endpoint if endpoint.endswith("/v1/traces") else endpoint.rstrip("/") + "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": f"touchline-{service}"}))
    # Spans are exported from the processor's own thread, in batches: never on the event loop.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    return Tracing(provider, service=service)


class Tracing:
    """One service's tracer. Built in the composition root and passed down; never global, so
    several services in one process (the tests) keep their own service names."""

    def __init__(self, provider: TracerProvider, *, service: str) -> None:
        self.provider = provider
        self.service = service
        self.tracer = provider.get_tracer(f"touchline.{service}")

    def shutdown(self) -> None:
        """Export what is buffered and stop (at process stop)."""
        self.provider.shutdown()

    @contextlib.contextmanager
    def server_span(self, name: str, *, headers: Mapping[str, str], attributes: Mapping[str, Any]) -> Iterator[Span]:
        """The current span for an HTTP request, the child of the caller's ``traceparent`` if any."""
        parent = _PROPAGATOR.extract(headers) if "traceparent" in headers else None
        with self.tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=dict(attributes)
        ) as span:
            yield span

    def consuming(self, envelopes: Sequence[Envelope], *, group: str) -> RecordSpans:
        """Start a span per record (see :class:`RecordSpans`)."""
        return RecordSpans(self, envelopes, group=group)

    async def client_span(
        self, name: str, work: Awaitable[T], *, traceparent: str | None, attributes: Mapping[str, Any]
    ) -> T:
        """Await ``work`` in a client span, the child of ``traceparent`` (a root span without it)."""
        with self.tracer.start_as_current_span(
            name, context=parent_context(traceparent, None), kind=SpanKind.CLIENT, attributes=dict(attributes)
        ):
            return await work

    @staticmethod
    def current_headers() -> Headers:
        """The CloudEvents tracing headers of the current span (none outside a span)."""
        return span_headers(trace.get_current_span())


class RecordSpans:
    """A consumer span per record of a batch, each the child of its record's trace context.

    ``envelopes`` are the records with ``traceparent`` / ``tracestate`` replaced by their span's,
    for the handler to pass on. The spans end together, when the batch's transaction did."""

    def __init__(self, tracing: Tracing, envelopes: Sequence[Envelope], *, group: str) -> None:
        self.spans: list[Span] = []
        self.envelopes: list[Envelope] = []
        # The records of one ingest request share their parent: parsed once per batch.
        parents: dict[tuple[str | None, str | None], Context | None] = {}
        for env in envelopes:
            remote = (env.traceparent, env.tracestate)
            parent = parents.get(remote)
            if parent is None and remote not in parents:
                parent = parents[remote] = parent_context(*remote)
            # Few attributes: the SDK validates each one, and this runs once per record.
            span = tracing.tracer.start_span(
                f"process {env.type}",
                context=parent,
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.consumer.group.name": group,
                    "messaging.destination.name": env.topic,
                    "messaging.destination.partition.id": str(env.partition),
                    "messaging.kafka.offset": env.offset,
                    "cloudevents.event_id": env.id,
                    "cloudevents.event_type": env.type,
                },
            )
            traceparent, tracestate = _context_of(span)
            self.spans.append(span)
            self.envelopes.append(env._replace(traceparent=traceparent, tracestate=tracestate))

    def failed(self, exc: BaseException) -> None:
        for span in self.spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, repr(exc)))

    def end(self) -> None:
        for span in self.spans:
            span.end()


def parent_context(traceparent: str | None, tracestate: str | None) -> Context | None:
    """The remote parent a W3C ``traceparent`` names (None: start a new trace)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return _PROPAGATOR.extract(carrier)


def _context_of(span: Span) -> tuple[str | None, str | None]:
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None, None
    traceparent = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    return traceparent, ctx.trace_state.to_header() or None


def span_headers(span: Span) -> Headers:
    traceparent, tracestate = _context_of(span)
    return envelope_headers(traceparent, tracestate)


def envelope_headers(traceparent: str | None, tracestate: str | None) -> Headers:
    """The CloudEvents distributed-tracing attributes, as binary-mode headers."""
    if traceparent is None:
        return []
    headers: Headers = [(TRACEPARENT, traceparent.encode())]
    if tracestate:
        headers.append((TRACESTATE, tracestate.encode()))
    return headers


def trace_by_key(envelopes: Sequence[Envelope]) -> dict[str, Headers]:
    """Per partition key, the tracing headers a message published for it carries: those of the
    last record with that key that has a trace context. Empty when none has one (no tracing
    anywhere upstream): one attribute check per record."""
    found: dict[str, Headers] = {}
    for env in envelopes:
        if env.traceparent is not None and env.key is not None:
            found[env.key] = envelope_headers(env.traceparent, env.tracestate)
    return found
