"""Composition root of ingest: settings -> adapters -> FastAPI app. Nothing happens at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from touchline.shared import topics
from touchline.shared.clock import Clock, SimulatedClock, SystemClock
from touchline.shared.db import make_engine
from touchline.shared.kafka import KafkaPublisher, feed_clock, make_producer
from touchline.shared.metrics import HTTP_LATENCY
from touchline.shared.retry import backoff
from touchline.shared.runtime import Runtime, install_task_dump, ops_router, serve, tune_gc
from touchline.shared.settings import CommonSettings
from touchline.shared.tracing import Tracing, from_settings

from .adapters.cache import CachedIdentities
from .adapters.kafka import KafkaEventPublisher
from .adapters.pg_imports import PostgresImportedRecords
from .adapters.postgres import PostgresIdentities
from .api import IngestApp, IngestState, router
from .api_import import import_router
from .auth import WriteKeys
from .domain import Limits, TimePolicy
from .handlers import Ports, release_stranded
from .ports import Identities
from .ratelimit import RateLimiter
from .readiness import readiness_router
from .settings import IngestSettings, refuse_dev_write_keys

log = logging.getLogger(__name__)
# Room for every request's records of a partition that arrive during one produce round trip
# (see adapters/kafka.py, group commit); aiokafka's 16 KiB default holds about 18 events.
# Below the broker's default message.max.bytes (1 MiB).
MAX_BATCH_BYTES = 512 * 1024


class Connection:
    """The idempotent producer once connected. Ingest starts (and answers 503) while Kafka is away."""

    def __init__(self, bootstrap_servers: str, *, request_timeout_ms: int) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.request_timeout_ms = request_timeout_ms
        self.producer: AIOKafkaProducer | None = None

    async def keep_connecting(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set() and self.producer is None:
            producer = make_producer(
                self.bootstrap_servers,
                request_timeout_ms=self.request_timeout_ms,
                max_batch_size=MAX_BATCH_BYTES,
                linger_ms=0,  # ingest batches across requests itself (adapters/kafka.py): no need to wait
            )
            try:
                await producer.start()
            except Exception as exc:  # any failure to bootstrap: try again, the API says 503 meanwhile
                failures += 1
                delay = backoff(failures, base=0.5, cap=10.0)
                log.warning("Kafka not reachable; retrying", extra={"error": exc.__class__.__name__, "in_s": delay})
                with contextlib.suppress(Exception):
                    await producer.stop()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            self.producer = producer


async def _sweep(ports: Ports, *, every: float, stop: asyncio.Event) -> None:
    """Release parked events left behind by a crash between linking a user and publishing them."""
    while not stop.is_set():
        # Wait first: at start-up Kafka is usually still connecting, and nothing is urgent here.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if stop.is_set():
            return
        try:
            released = await release_stranded(ports=ports)
            if released:
                log.info("released stranded parked events", extra={"count": released})
        except Exception as exc:  # retried next round; the events stay parked, nothing is lost
            log.warning("stranded sweep failed", extra={"error": repr(exc)})


def build_app(common: CommonSettings, settings: IngestSettings, *, tracing: Tracing | None = None) -> FastAPI:
    """``tracing``: the service's tracer (tests); by default the one the settings configure."""
    refuse_dev_write_keys(settings, env=common.env)
    state = IngestState(
        keys=WriteKeys.parse(settings.write_keys.get_secret_value()),
        limiter=RateLimiter(rate=settings.rate_limit_events_per_second, burst=settings.rate_limit_burst),
        limits=Limits(
            max_event_bytes=settings.max_event_bytes,
            max_request_bytes=settings.max_request_bytes,
            max_batch_events=settings.max_batch_events,
        ),
        policy=TimePolicy(
            future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
            max_age=timedelta(days=settings.max_event_age_days),
        ),
        retry_after=settings.retry_after_seconds,
        now=lambda: _now_unset(),
    )
    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_task_dump()
        clock: Clock = SystemClock() if common.clock == "system" else SimulatedClock()
        # Records the client was answered 503 for should not linger for long in the producer.
        timeout_ms = max(1000, int(settings.publish_timeout_seconds * 1000))
        connection = Connection(common.kafka_bootstrap_servers, request_timeout_ms=timeout_ms)
        # Runtime (shared) requires a producer; ingest publishes only through `connection`'s, started
        # once Kafka answers, so this one is never started nor used (readiness_router shadows the
        # shared /readyz, the only reader of runtime.producer).
        placeholder = make_producer(common.kafka_bootstrap_servers)
        runtime = Runtime(
            service="ingest",
            common=common,
            clock=clock,
            engine=make_engine(common.database_url, pool_size=10),
            producer=placeholder,
            publisher=KafkaPublisher(placeholder, source="touchline/ingest", prefix=common.topic_prefix),
            tracing=tracing or from_settings(common, service="ingest"),
        )
        ports = Ports(
            identities=_identities(runtime, settings),
            publisher=KafkaEventPublisher(
                lambda: connection.producer,
                topic_name=runtime.topic(topics.EVENTS),
                timeout=settings.publish_timeout_seconds,
                tracing=runtime.tracing,
            ),
        )
        if isinstance(clock, SimulatedClock):
            runtime.spawn(
                "clock-feed",
                feed_clock(common.kafka_bootstrap_servers, clock, prefix=common.topic_prefix, stop=runtime.stop),
            )
        runtime.spawn("kafka-connect", connection.keep_connecting(runtime.stop))
        runtime.spawn("stranded-sweep", _sweep(ports, every=settings.release_sweep_seconds, stop=runtime.stop))
        state.now = clock.now
        state.ports = ports
        state.tracing = runtime.tracing
        holder.update(runtime=runtime, connection=connection, imported=PostgresImportedRecords(runtime.engine))
        try:
            yield
        finally:
            state.ports = None
            runtime.stop.set()
            await asyncio.wait(runtime.tasks, timeout=15)
            for task in runtime.tasks:
                task.cancel()
            if connection.producer is not None:
                await connection.producer.stop()
            await placeholder.stop()  # never started; stopping it closes its client cleanly
            await runtime.engine.dispose()
            if runtime.tracing is not None:
                await asyncio.to_thread(runtime.tracing.shutdown)  # exports what is buffered
            state.tracing = None
            holder.clear()

    app = IngestApp(
        title="Touchline ingest",
        description="Segment-compatible event API: every 200 means every accepted event is durable.",
        version="1",
        lifespan=lifespan,
    )
    app.state.ingest = state
    app.state.holder = holder
    app.add_middleware(_Timing)
    app.include_router(router(lambda: state))
    app.include_router(
        import_router(lambda: state, lambda: holder.get("imported"), max_bytes=settings.import_max_bytes)
    )
    app.include_router(readiness_router(lambda: holder.get("runtime"), lambda: holder.get("connection")))
    app.include_router(ops_router(lambda: holder.get("runtime")))
    return app


def _identities(runtime: Runtime, settings: IngestSettings) -> Identities:
    store = PostgresIdentities(runtime.engine)
    if settings.account_cache_seconds <= 0:
        return store
    return CachedIdentities(store, ttl=settings.account_cache_seconds)


def _now_unset() -> Any:
    raise RuntimeError("ingest clock used before the app started")


class _Timing:
    """Request latency per route and status (pure ASGI: no body buffering, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def capture(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_LATENCY.labels("ingest", route, str(status)).observe(time.perf_counter() - started)


def cli(argv: list[str]) -> int:
    if argv:
        print("usage: touchline ingest   (configured by TOUCHLINE_* and TOUCHLINE_INGEST_* variables)", file=sys.stderr)
        return 2
    from touchline.shared.logs import configure

    common = CommonSettings()
    settings = IngestSettings()
    configure("ingest", common.log_level)
    app = build_app(common, settings)
    tune_gc()
    serve(app, host=settings.host, port=settings.port)
    return 0
