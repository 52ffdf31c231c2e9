"""The Segment-compatible HTTP API: read the body (capped), authenticate, limit, parse, accept."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from opentelemetry.trace import StatusCode

from touchline.shared.metrics import HTTP_LATENCY
from touchline.shared.tracing import Tracing

from .auth import WriteKeys, basic_user
from .domain import KINDS, Limits, Parsed, Problem, RequestInvalid, TimePolicy
from .handlers import Ports, accept
from .metrics import ACCEPTED, REJECTED
from .openapi import BATCH_BODY, RESPONSES, call_body
from .payloads import body_write_key, gunzip_capped, load_document, parse_batch, parse_single
from .ports import Unavailable
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)
JSON_TYPES = ("application/json", "text/plain", "")


@dataclass
class IngestState:
    """What the routes need; ``ports`` is set once the lifespan connected Postgres and Kafka."""

    keys: WriteKeys
    limiter: RateLimiter
    limits: Limits
    policy: TimePolicy
    retry_after: int
    now: Callable[[], datetime]
    ports: Ports | None = None
    # None: tracing off. On, each Segment request is a server span its events carry.
    tracing: Tracing | None = None


class Refused(Exception):
    def __init__(self, status: int, reason: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.extra = status, reason, message, extra

    def response(self) -> Response:
        REJECTED.labels(self.reason).inc()
        headers = {k: str(v) for k, v in self.extra.pop("headers", {}).items()}
        body = {"success": False, "error": self.reason, "message": self.message, **self.extra}
        return _json(body, status=self.status, headers=headers)


def _invalid(exc: RequestInvalid) -> Refused:
    return Refused(exc.status, exc.problem.reason, str(exc), errors=[exc.problem.as_json()])


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it exceeds ``limit``: never buffered beyond the cap."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestInvalid(Problem("body", f"body is {declared} bytes, limit {limit}", "too_large"), status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestInvalid(Problem("body", f"body exceeds {limit} bytes", "too_large"), status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _document(request: Request, limits: Limits) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise Refused(415, "unsupported_media_type", f"Content-Type {media!r} not accepted; send application/json")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise Refused(415, "unsupported_media_type", f"Content-Encoding {encoding!r} not accepted; use gzip or none")
    try:
        data = await _read_capped(request, limits.max_request_bytes)
        if encoding == "gzip":
            data = gunzip_capped(data, limit=limits.max_request_bytes)
        return load_document(data, limit=limits.max_request_bytes)
    except RequestInvalid as exc:
        raise _invalid(exc) from exc


def _source(state: IngestState, request: Request, document: dict[str, Any] | None) -> str:
    header = request.headers.get("authorization")
    key = basic_user(header) if header else body_write_key(document or {})
    source = state.keys.source_of(key)
    if source is None:
        what = "unknown write key" if key else "missing write key (HTTP Basic user name or writeKey in the body)"
        raise Refused(401, "unauthorized", what, headers={"WWW-Authenticate": 'Basic realm="touchline"'})
    return source


async def _handle(state: IngestState, request: Request, kind: str) -> Response:
    try:
        if request.headers.get("authorization"):
            _source(state, request, None)  # refuse a wrong Basic key before reading any body
        document = await _document(request, state.limits)
        source = _source(state, request, document)
        received_at = state.now()
        try:
            if kind == "batch":
                parsed = parse_batch(document, received_at=received_at, policy=state.policy, limits=state.limits)
            else:
                parsed = parse_single(
                    document, kind=kind, received_at=received_at, policy=state.policy, limits=state.limits
                )
        except RequestInvalid as exc:
            raise _invalid(exc) from exc
        wait = state.limiter.check(source, len(parsed.calls) + len(parsed.rejected), now=time.monotonic())
        if wait:
            raise Refused(
                429, "rate_limited", f"source {source!r} is over its rate limit", headers={"Retry-After": wait}
            )
        if state.ports is None:
            raise Unavailable("starting")
        await accept(parsed.calls, source=source, ports=state.ports, now=received_at)
    except Refused as refused:
        return refused.response()
    except Unavailable as exc:
        log.warning("answering 503: events not durable", extra={"reason": str(exc)})
        return Refused(
            503, "unavailable", f"events not stored, retry: {exc}", headers={"Retry-After": state.retry_after}
        ).response()
    return _answer(parsed, source)


def _answer(parsed: Parsed, source: str) -> Response:
    for kind, count in collections.Counter(c.kind for c in parsed.calls).items():
        ACCEPTED.labels(source, kind).inc(count)
    if not parsed.rejected:
        return _json({"success": True, "accepted": len(parsed.calls)})
    for rejected in parsed.rejected:
        REJECTED.labels(rejected.problems[0].reason).inc()
    return _json(
        {
            "success": False,
            "error": "invalid",
            "message": f"{len(parsed.rejected)} event(s) rejected; the {len(parsed.calls)} valid one(s) were accepted",
            "accepted": len(parsed.calls),
            "rejected": [r.as_json() for r in parsed.rejected],
        },
        status=400,
    )


def _json(body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def router(get_state: Callable[[], IngestState]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["segment"])

    def add(path: str, kind: str, body: dict[str, Any], summary: str) -> None:
        async def endpoint(request: Request) -> Response:
            return await _handle(get_state(), request, kind)

        api.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            summary=summary,
            name=f"ingest_{path.strip('/')}",
            responses=RESPONSES,
            openapi_extra={"requestBody": body},
        )

    for kind in KINDS:
        add(f"/{kind}", kind, call_body(kind), f"Segment {kind} call")
    add("/batch", "batch", BATCH_BODY, "Several calls at once (outer context merged into each)")
    add("/import", "batch", BATCH_BODY, "Same as /v1/batch")
    return api


def _paths() -> dict[str, str]:
    paths = {f"/v1/{kind}": kind for kind in KINDS}
    return {**paths, "/v1/batch": "batch", "/v1/import": "batch"}


class IngestApp(FastAPI):
    """FastAPI, with the Segment POSTs dispatched straight to their handler.

    Routing them through FastAPI's middleware stack, router and dependency solver cost about
    0.3 ms of CPU per request (3 us per event of a 100-event batch), as much as validating a
    third of the batch. The routes stay registered (OpenAPI at /docs, and every other method
    or path still goes through FastAPI); the request latency metric is recorded here instead.
    """

    segment_paths = _paths()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = self.segment_paths.get(scope["path"]) if scope["type"] == "http" else None
        if kind is None or scope["method"] != "POST":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        state: IngestState = self.state.ingest
        if state.tracing is None:
            response = await _respond(state, Request(scope, receive), kind)
        else:
            response = await _traced(state.tracing, state, Request(scope, receive), kind)
        try:
            await response(scope, receive, send)
        finally:
            HTTP_LATENCY.labels("ingest", scope["path"], str(response.status_code)).observe(
                time.perf_counter() - started
            )


async def _respond(state: IngestState, request: Request, kind: str) -> Response:
    try:
        return await _handle(state, request, kind)
    except Exception:
        log.exception("ingest request failed")  # a bug: answered 500, the client retries
        return _json({"success": False, "error": "internal", "message": "internal error"}, status=500)


async def _traced(tracing: Tracing, state: IngestState, request: Request, kind: str) -> Response:
    """_respond in a server span (the child of the caller's ``traceparent`` header, if any)."""
    path = request.url.path
    attributes = {"http.request.method": "POST", "http.route": path, "url.path": path, "touchline.call": kind}
    with tracing.server_span(f"POST {path}", headers=request.headers, attributes=attributes) as span:
        response = await _respond(state, request, kind)
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            span.set_status(StatusCode.ERROR)  # a 4xx is the caller's error, not the server's
        return response
