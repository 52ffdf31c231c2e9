"""Prometheus metrics shared by the consumer runner, the services' loops and their HTTP layer.

Names follow the Prometheus conventions (base units: seconds, records; ``_total`` on counters).
Label values are bounded sets (group, topic, partition, a reason *class*, a state), never free
text: a dead-letter reason such as ``handler failed: KeyError('x')`` is counted as
``handler_failed``. Call sites in the services make one call into the functions below, so the
metrics stay defined here. ingest's own counters live in ``touchline.ingest.metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from prometheus_client import Counter, Gauge, Histogram

T = TypeVar("T")

# Batches run from one record to a few thousand (health fetches up to 10,000).
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
# From a fast batch to a database that is away for a while.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Event age and timer lateness: from "just now" to "a day late".
AGE_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)

CONSUMED = Counter("touchline_consumed_total", "Records handled and committed", ["group"])
DEAD_LETTERED = Counter(
    "touchline_dead_lettered_total",
    "Records sent to a DLQ, by reason class (unreadable: not a valid CloudEvent/message; handler_failed; "
    "or a reason the handler gave, see shared/fates.py)",
    ["group", "topic", "reason"],
)
AUDIT_FAILURES = Counter(
    "touchline_audit_failures_total",
    "Changes made through a service API whose audit entry could not be written (the change stands; see the log)",
    ["service"],
)
SKIPPED = Counter(
    "touchline_skipped_total",
    "Records consumed but not applied, by reason (already_applied: a redelivery of a committed offset; "
    "duplicate: a message id the service processed before; unknown_type: a message type the service does not read)",
    ["group", "reason"],
)
# Every consumed record has one fate (see shared/fates.py); the three counters above stay, for
# the dashboards and alerts that name them, and count the same records as their fate here.
RECORD_FATES = Counter(
    "touchline_consumer_records_total",
    "Consumed records by fate, counted once their batch committed: ok (applied), skipped (consumed, not "
    "applied; reason as touchline_skipped_total) or dead_lettered (sent to <topic>.dlq; reason class)",
    ["group", "fate", "reason"],
)
CONSUMER_RETRIES = Counter(
    "touchline_consumer_retries_total", "Batch attempts that failed and were retried", ["group", "kind"]
)
CONSUMER_LAG = Gauge(
    "touchline_consumer_lag_records",
    "Records in the partition after the last committed batch (high watermark minus committed position)",
    ["group", "topic", "partition"],
)
BATCH_RECORDS = Histogram(
    "touchline_consumer_batch_records", "Records in one committed consumer batch", ["group"], buckets=BATCH_BUCKETS
)
BATCH_SECONDS = Histogram(
    "touchline_consumer_batch_duration_seconds",
    "Time to apply and commit one consumer batch (retries included)",
    ["group"],
    buckets=DURATION_BUCKETS,
)
EVENT_AGE = Histogram(
    "touchline_event_age_seconds",
    "At commit: wall clock minus the event time (ce_time, else the record timestamp) of the oldest "
    "record of each partition in the batch",
    ["group"],
    buckets=AGE_BUCKETS,
)
HTTP_LATENCY = Histogram("touchline_http_request_seconds", "HTTP request latency", ["service", "route", "status"])
PRUNED = Counter(
    "touchline_processed_ids_pruned_total", "Processed message ids forgotten after the retention", ["schema"]
)

TIMERS_DUE = Gauge("touchline_touch_timers_due", "Timers due (by the service clock) and not fired yet")
TIMERS_OLDEST_DUE = Gauge(
    "touchline_touch_timers_oldest_due_seconds", "Service clock minus the due time of the oldest unfired due timer"
)
TIMER_LATENESS = Histogram(
    "touchline_touch_timer_lateness_seconds",
    "Service clock when a timer fired minus its due time",
    buckets=AGE_BUCKETS,
)

DELIVERIES = Counter(
    "touchline_notify_deliveries_total",
    "Deliveries settled or retried, by channel and state (sent, failed, suppressed, retry)",
    ["channel", "state"],
)
SMTP_SECONDS = Histogram(
    "touchline_notify_smtp_seconds",
    "One SMTP conversation (connect to accepted), by outcome (ok, error)",
    ["outcome"],
    buckets=DURATION_BUCKETS,
)
WEBHOOK_ATTEMPTS = Counter(
    "touchline_notify_webhook_attempts_total",
    "Webhook POSTs, by endpoint kind and result (delivered, gone, 4xx, 5xx, error)",
    ["kind", "result"],
)


class _Record(Protocol):
    topic: str
    partition: int
    offset: int
    timestamp: int
    headers: Sequence[tuple[str, bytes]]


class _TopicPartition(Protocol):
    topic: str
    partition: int


def batch_committed(
    group: str,
    records: Sequence[_Record],
    *,
    seconds: float,
    highwater: Callable[[str, int], int | None],
    now: datetime | None = None,
) -> None:
    """After a batch's transaction committed: its size and duration, the lag left in each of its
    partitions and the age of each partition's oldest record in it. ``highwater(topic, partition)`` is the
    consumer's last-fetched high watermark of (topic, partition), None before any fetch."""
    BATCH_RECORDS.labels(group).observe(len(records))
    BATCH_SECONDS.labels(group).observe(seconds)
    first: dict[tuple[str, int], _Record] = {}
    last: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        first.setdefault(key, record)
        last[key] = record.offset
    wall = now or datetime.now(UTC)
    for (topic, partition), oldest in first.items():
        at = event_time(oldest)
        if at is not None:
            EVENT_AGE.labels(group).observe(max((wall - at).total_seconds(), 0.0))
        high = highwater(topic, partition)
        if high is not None:
            CONSUMER_LAG.labels(group, topic, str(partition)).set(max(high - last[(topic, partition)] - 1, 0))


def event_time(record: _Record) -> datetime | None:
    """The CloudEvents ``time`` attribute, else the Kafka record timestamp (ms since the epoch),
    else None (a record without either, as test doubles build them)."""
    for name, value in getattr(record, "headers", None) or ():
        if name == "ce_time":
            try:
                parsed = datetime.fromisoformat(value.decode())
            except (ValueError, UnicodeDecodeError):
                break
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    timestamp = getattr(record, "timestamp", None)
    return datetime.fromtimestamp(timestamp / 1000, UTC) if isinstance(timestamp, int) else None


def partitions_revoked(group: str, revoked: Iterable[_TopicPartition]) -> None:
    """Another member owns these now: its lag is reported there, not as a frozen value here."""
    for tp in revoked:
        try:
            CONSUMER_LAG.remove(group, tp.topic, str(tp.partition))
        except KeyError:
            pass


def dead_lettered(group: str, topic: str, reason: str, *, reason_class: str | None = None) -> None:
    """One record sent to ``<topic>.dlq``; ``reason_class`` when the reason text is already one
    (a handler's, see shared/fates.py), else derived from the text."""
    label = reason_class or dead_letter_reason(reason)
    DEAD_LETTERED.labels(group, topic, label).inc()
    RECORD_FATES.labels(group, "dead_lettered", label).inc()


def dead_letter_reason(reason: str) -> str:
    """The bounded class of a dead-letter reason text (see shared/consumer.py)."""
    return "handler_failed" if reason.startswith("handler failed") else "unreadable"


def consumer_started(group: str, *, skip_reasons: Iterable[str]) -> None:
    """The fate series of a consumer group exist from its start, at 0: a series that first appears
    at 1 shows no increase() in Prometheus, so the first skip would go unseen."""
    RECORD_FATES.labels(group, "ok", "")
    for reason in skip_reasons:
        SKIPPED.labels(group, reason)
        RECORD_FATES.labels(group, "skipped", reason)


def skipped(group: str, reason: str, count: int) -> None:
    SKIPPED.labels(group, reason).inc(count)
    RECORD_FATES.labels(group, "skipped", reason).inc(count)


def applied(group: str, count: int) -> None:
    """Records whose fate was ok: the handler applied them (which may mean "nothing to do")."""
    if count:
        RECORD_FATES.labels(group, "ok", "").inc(count)


def duplicates_dropped(group: str, count: int) -> None:
    """Duplicates a handler dropped without reporting them in its BatchResult (notify's, until
    its handler reports fates): counted in touchline_skipped_total only, not as a fate."""
    SKIPPED.labels(group, "duplicate").inc(count)


def timer_backlog(*, due: int, oldest_due: datetime | None, now: datetime) -> None:
    TIMERS_DUE.set(due)
    TIMERS_OLDEST_DUE.set(max((now - oldest_due).total_seconds(), 0.0) if oldest_due else 0.0)


def timer_fired(*, due_at: datetime, fired_at: datetime) -> None:
    TIMER_LATENESS.observe(max((fired_at - due_at).total_seconds(), 0.0))


def delivered(channel: str, state: str) -> None:
    DELIVERIES.labels(channel, state).inc()


async def timed_smtp(send: Awaitable[T]) -> T:
    """Await one SMTP send, observing how long it took and whether it raised."""
    started = time.perf_counter()
    outcome = "error"
    try:
        result = await send
        outcome = "ok"
        return result
    finally:
        SMTP_SECONDS.labels(outcome).observe(time.perf_counter() - started)


def webhook_attempt(kind: str, *, status: int | None, ok: bool) -> None:
    if ok:
        result = "delivered"
    elif status == 410:
        result = "gone"
    elif status is None:
        result = "error"
    else:
        result = f"{status // 100}xx"
    WEBHOOK_ATTEMPTS.labels(kind, result).inc()


class HttpMetrics:
    """ASGI middleware: ``touchline_http_request_seconds`` per route template and status, timed to
    the response start (so a long-lived stream counts its time to first byte, not its lifetime).
    ``app.add_middleware(HttpMetrics, service="health")``. ingest times its own hot path."""

    def __init__(self, app: Any, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            if not observed:
                observed = True
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                HTTP_LATENCY.labels(self.service, route, str(status)).observe(time.perf_counter() - started)

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            observe(500)  # the server error middleware outside answers 500
            raise
