"""Never a 200 for an event that is not durable: Kafka away -> 503 with Retry-After; time from the clock."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from ingest_harness import Ingest, events_for, ingest_settings, running, wait_until
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from touchline.shared.admin import publish_clock
from touchline.shared.settings import CommonSettings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def batch_for(account: str, n: int = 3) -> dict[str, object]:
    return {
        "context": {"groupId": account},
        "batch": [{"type": "track", "userId": "u", "event": "Login", "messageId": f"{account}-{i}"} for i in range(n)],
    }


async def test_unreachable_kafka_means_503_with_retry_after_then_the_retry_lands(
    common: CommonSettings, ingest: Ingest
) -> None:
    account = f"acct-{uuid.uuid4().hex[:12]}"
    down = common.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{closed_port()}", "clock": "system"})
    async with running(down, ingest_settings(retry_after_seconds=7), connected=False) as broken:
        response = await broken.client.post("/v1/batch", json=batch_for(account))
        assert response.status_code == 503 and response.headers["retry-after"] == "7"
        assert response.json()["error"] == "unavailable"
        ready = await broken.client.get("/readyz")
        assert ready.status_code == 503 and "kafka: not connected" in ready.json()["problems"]
    # The SDK retries the same messageIds against a healthy ingest: everything lands exactly once.
    assert (await ingest.client.post("/v1/batch", json=batch_for(account))).status_code == 200
    assert [e.id for e in await events_for(common, account)] == [f"{account}-{i}" for i in range(3)]


async def test_kafka_that_does_not_acknowledge_in_time_means_503_not_200(common: CommonSettings) -> None:
    account = f"acct-{uuid.uuid4().hex[:12]}"
    # Connected to the real broker, but its topics do not exist: nothing can be acknowledged.
    silent = common.model_copy(update={"topic_prefix": f"missing-{uuid.uuid4().hex[:8]}.", "clock": "system"})
    async with running(silent, ingest_settings(publish_timeout_seconds=1.0)) as stuck:
        response = await stuck.client.post("/v1/batch", json=batch_for(account))
        assert response.status_code == 503 and "did not acknowledge" in response.json()["message"]


async def test_events_of_ungrouped_users_are_kept_while_kafka_is_down_and_released_later(
    common: CommonSettings, ingest: Ingest
) -> None:
    account, user = f"acct-{uuid.uuid4().hex[:12]}", f"u-{uuid.uuid4().hex[:12]}"
    down = common.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{closed_port()}", "clock": "system"})
    async with running(down, ingest_settings(), connected=False) as broken:
        parked = await broken.client.post("/v1/track", json={"userId": user, "event": "Login", "messageId": "p-1"})
        assert parked.status_code == 200  # durable in Postgres, not yet on Kafka
        grouped = await broken.client.post("/v1/group", json={"userId": user, "groupId": account})
        assert grouped.status_code == 503  # the group event and the release need Kafka
    assert (await ingest.client.post("/v1/group", json={"userId": user, "groupId": account})).status_code == 200
    kinds = [(e.id, e.message.kind) for e in await events_for(common, account)]  # type: ignore[attr-defined]
    assert kinds[0] == ("p-1", "track") and [k for _, k in kinds[1:]] == ["group"]


async def test_received_at_comes_from_the_shared_clock_and_skew_is_corrected(ingest: Ingest) -> None:
    account = f"acct-{uuid.uuid4().hex[:12]}"
    now = datetime(2027, 6, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=uuid.uuid4().int % 1000)
    await publish_clock(ingest.common, now)
    state = ingest.app.state.ingest
    await wait_until(lambda: state.now() == now, what="ingest sees the simulated time")
    # The device clock is two hours behind: it says it sent at 07:00 an event of 06:55.
    sent = now - timedelta(hours=2)
    body = {**batch_for(account, 1), "sentAt": sent.isoformat()}
    body["batch"][0]["timestamp"] = (sent - timedelta(minutes=5)).isoformat()  # type: ignore[index]
    assert (await ingest.client.post("/v1/batch", json=body)).status_code == 200
    [env] = await events_for(ingest.common, account)
    assert env.message.received_at == now  # type: ignore[attr-defined]
    assert env.message.timestamp == now - timedelta(minutes=5)  # type: ignore[attr-defined]


async def test_unreachable_postgres_means_503_for_events_that_need_the_account_map(common: CommonSettings) -> None:
    broken_db = common.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@/none?host=/nonexistent-socket-dir", "clock": "system"}
    )
    async with running(broken_db, ingest_settings()) as ingest:
        response = await ingest.client.post("/v1/track", json={"userId": "u", "event": "Login"})
        assert response.status_code == 503 and "Postgres" in response.json()["message"]
        assert "retry-after" in response.headers


async def test_parked_events_left_behind_by_a_crash_are_released_by_the_sweep(common: CommonSettings) -> None:
    account, user = f"acct-{uuid.uuid4().hex[:12]}", f"u-{uuid.uuid4().hex[:12]}"
    event: dict[str, object] = {
        "message_id": f"stranded-{user}",
        "account_id": "",
        "kind": "track",
        "event": "Login",
        "semantic": "login",
        "feature": None,
        "user_id": user,
        "anonymous_id": None,
        "timestamp": "2027-01-01T00:00:00+00:00",
        "received_at": "2027-01-01T00:00:00+00:00",
        "source": "product",
        "properties": {},
        "traits": {},
        "context": {},
    }
    # The state a crash between "link stored" and "parked events published" leaves behind.
    engine = create_async_engine(common.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO ingest.user_accounts (user_key, account_id, source) VALUES (:k, :a, 'product')"),
                {"k": f"u:{user}", "a": account},
            )
            await conn.execute(
                text(
                    """INSERT INTO ingest.parked_events (message_id, user_keys, source, event, parked_at)
                    VALUES (:m, :k, 'product', CAST(:e AS jsonb), now())"""
                ),
                {"m": event["message_id"], "k": [f"u:{user}"], "e": orjson.dumps(event).decode()},
            )
        async with running(common, ingest_settings(release_sweep_seconds=0.2)):
            for _ in range(200):
                if await events_for(common, account):
                    break
                await asyncio.sleep(0.1)
        [env] = await events_for(common, account)
        assert (env.id, env.key) == (f"stranded-{user}", account)
        async with engine.connect() as conn:
            left = await conn.scalar(
                text("SELECT count(*) FROM ingest.parked_events WHERE message_id = :m"), {"m": event["message_id"]}
            )
        assert left == 0
    finally:
        await engine.dispose()
