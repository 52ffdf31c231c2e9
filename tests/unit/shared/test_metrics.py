"""The metric functions the consumer runner and the services call: what each records, with
bounded label values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from touchline.shared import metrics

NOW = datetime(2031, 1, 1, 12, tzinfo=UTC)


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    timestamp: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_committed_batch_records_size_duration_lag_per_partition_and_the_oldest_event_age() -> None:
    group = "unit-batch"
    ce_time = (NOW - timedelta(seconds=90)).isoformat().encode()
    records = [
        Rec("t", 0, 10, headers=[("ce_time", ce_time)]),
        Rec("t", 0, 11, headers=[("ce_time", NOW.isoformat().encode())]),
        # No ce_time: the record timestamp (ms) stands in, 30 s before NOW.
        Rec("t", 3, 4, timestamp=int((NOW - timedelta(seconds=30)).timestamp() * 1000)),
    ]
    highwaters = {("t", 0): 20, ("t", 3): None}
    metrics.batch_committed(group, records, seconds=0.25, highwater=lambda t, p: highwaters[(t, p)], now=NOW)
    assert sample("touchline_consumer_batch_records_sum", group=group) == 3
    assert sample("touchline_consumer_batch_duration_seconds_sum", group=group) == 0.25
    assert sample("touchline_consumer_lag_records", group=group, topic="t", partition="0") == 20 - 11 - 1
    # Before any fetch there is no high watermark: no lag is made up for the partition.
    assert (
        REGISTRY.get_sample_value("touchline_consumer_lag_records", {"group": group, "topic": "t", "partition": "3"})
        is None
    )
    assert sample("touchline_event_age_seconds_count", group=group) == 2
    assert sample("touchline_event_age_seconds_sum", group=group) == 90 + 30


def test_revoked_partitions_stop_reporting_lag_here() -> None:
    group = "unit-revoke"
    metrics.batch_committed(group, [Rec("t", 1, 5)], seconds=0.1, highwater=lambda t, p: 9, now=NOW)
    assert sample("touchline_consumer_lag_records", group=group, topic="t", partition="1") == 3

    @dataclass
    class TP:
        topic: str
        partition: int

    metrics.partitions_revoked(group, [TP("t", 1), TP("t", 2)])
    assert (
        REGISTRY.get_sample_value("touchline_consumer_lag_records", {"group": group, "topic": "t", "partition": "1"})
        is None
    )


def test_an_unparsable_ce_time_falls_back_to_the_record_timestamp() -> None:
    record = Rec("t", 0, 0, timestamp=int(NOW.timestamp() * 1000), headers=[("ce_time", b"yesterday")])
    assert metrics.event_time(record) == NOW


@pytest.mark.parametrize(
    ("reason", "counted_as"),
    [
        ("handler failed: KeyError('account')", "handler_failed"),
        ("unknown ce_type touchline.nope.v1", "unreadable"),
        ("invalid touchline.event.v1 data: 1 validation error", "unreadable"),
    ],
)
def test_dead_letter_reasons_are_counted_by_class_not_by_text(reason: str, counted_as: str) -> None:
    before = sample("touchline_dead_lettered_total", group="unit-dlq", topic="t", reason=counted_as)
    metrics.dead_lettered("unit-dlq", "t", reason)
    assert sample("touchline_dead_lettered_total", group="unit-dlq", topic="t", reason=counted_as) == before + 1


def test_timer_backlog_and_lateness_follow_the_service_clock() -> None:
    metrics.timer_backlog(due=7, oldest_due=NOW - timedelta(minutes=5), now=NOW)
    assert sample("touchline_touch_timers_due") == 7
    assert sample("touchline_touch_timers_oldest_due_seconds") == 300
    metrics.timer_backlog(due=0, oldest_due=None, now=NOW)
    assert sample("touchline_touch_timers_oldest_due_seconds") == 0
    before = sample("touchline_touch_timer_lateness_seconds_sum")
    metrics.timer_fired(due_at=NOW - timedelta(seconds=2), fired_at=NOW)
    assert sample("touchline_touch_timer_lateness_seconds_sum") == before + 2


async def test_an_smtp_send_is_timed_as_ok_or_error_and_its_failure_still_raises() -> None:
    async def fine() -> str:
        return "250 ok"

    async def refused() -> None:
        raise ConnectionRefusedError("smtp down")

    ok, error = (sample("touchline_notify_smtp_seconds_count", outcome=o) for o in ("ok", "error"))
    assert await metrics.timed_smtp(fine()) == "250 ok"
    with pytest.raises(ConnectionRefusedError):
        await metrics.timed_smtp(refused())
    assert sample("touchline_notify_smtp_seconds_count", outcome="ok") == ok + 1
    assert sample("touchline_notify_smtp_seconds_count", outcome="error") == error + 1


@pytest.mark.parametrize(
    ("status", "ok", "result"),
    [(204, True, "delivered"), (410, False, "gone"), (503, False, "5xx"), (404, False, "4xx"), (None, False, "error")],
)
def test_webhook_attempts_are_counted_by_result_class(status: int | None, ok: bool, result: str) -> None:
    before = sample("touchline_notify_webhook_attempts_total", kind="unit", result=result)
    metrics.webhook_attempt("unit", status=status, ok=ok)
    assert sample("touchline_notify_webhook_attempts_total", kind="unit", result=result) == before + 1


async def test_http_requests_are_timed_by_route_template_and_status_including_errors_and_unmatched_paths() -> None:
    app = FastAPI()
    app.add_middleware(metrics.HttpMetrics, service="unit")

    @app.get("/v1/accounts/{account_id}")
    async def account(account_id: str) -> dict[str, str]:
        return {"id": account_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("bug")

    def count(route: str, status: str) -> float:
        return sample("touchline_http_request_seconds_count", service="unit", route=route, status=status)

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/v1/accounts/a1")).status_code == 200
        assert (await client.get("/v1/accounts/a2")).status_code == 200
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get("/nowhere/x")).status_code == 404
    assert count("/v1/accounts/{account_id}", "200") == 2
    assert count("/boom", "500") == 1
    assert count("unmatched", "404") == 1
