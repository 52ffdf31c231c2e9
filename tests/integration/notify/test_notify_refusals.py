"""Failure paths on the real stack: bad commands are dead-lettered, bad requests refused by name."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from notify_harness import Notify, eventually, inapp_command, task_command
from sqlalchemy import text
from test_notify_inapp_api import _survey_for, auth

from touchline.notify.adapters import pg_tasks
from touchline.notify.adapters.webhooks import HttpxPoster
from touchline.notify.settings import NotifySettings
from touchline.shared import topics
from touchline.shared.messages import Command

BEARER = {"Authorization": "Bearer dev-api-token"}


async def _dead_lettered(notify: Notify, command_ids: set[str]) -> set[str]:
    consumer = AIOKafkaConsumer(
        topics.dlq_name(topics.name(topics.COMMANDS, notify.common.topic_prefix)),
        bootstrap_servers=notify.common.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=1000)
        ids = {h[1].decode() for records in batch.values() for r in records for h in r.headers if h[0] == "ce_id"}
    finally:
        await consumer.stop()
    return ids & command_ids


async def test_commands_that_cannot_be_carried_out_are_dead_lettered(notify: Notify):
    account = str(uuid.uuid4())
    unknown = inapp_command(account, ["u1"], "no.such_template")
    no_spec = Command(
        command_id=str(uuid.uuid4()), account_id=account, channel="task", dedup_key="x", issued_at=datetime.now(UTC)
    )
    await notify.publish(topics.COMMANDS, unknown, no_spec)
    wanted = {unknown.command_id, no_spec.command_id}

    async def both() -> bool:
        return await _dead_lettered(notify, wanted) == wanted

    await eventually(both, what="both commands in the DLQ", seconds=60)


async def test_answering_a_message_that_is_not_a_survey_is_refused(notify: Notify):
    _, user, messages = await _survey_for(notify, "onboarding.tips")
    response = await notify.client.post(
        f"/v1/inapp/messages/{messages[0]['id']}/events",
        json={"type": "answered", "answer": {"survey": "nps", "score": 1}},
        headers=auth(user),
    )
    assert response.status_code == 422 and "not a survey" in response.text


async def test_an_unknown_event_type_is_refused_naming_the_field(notify: Notify):
    _, user, messages = await _survey_for(notify)
    response = await notify.client.post(
        f"/v1/inapp/messages/{messages[0]['id']}/events", json={"type": "liked"}, headers=auth(user)
    )
    assert response.status_code == 422 and "type" in response.text


async def test_a_snooze_without_a_time_zone_is_refused(notify: Notify):
    account = str(uuid.uuid4())
    await notify.directory(account, owner="csm@us.test")
    await notify.publish(topics.COMMANDS, task_command(account))

    async def task() -> list:
        return (await notify.client.get("/v1/tasks", params={"account_id": account}, headers=BEARER)).json()["tasks"]

    tasks = await eventually(task, what="task")
    response = await notify.client.post(
        f"/v1/tasks/{tasks[0]['id']}/snooze", json={"until": "2099-01-01T00:00:00"}, headers=BEARER
    )
    assert response.status_code == 422 and "until" in response.text


async def test_a_webhook_endpoint_with_an_unusable_url_fails_once_instead_of_retrying(notify: Notify):
    """An instance configured with a URL that cannot be posted to (the session's instance does not name it)."""
    url = f"http://127.0.0.1:notaport/ep-bad-{uuid.uuid4().hex[:8]}"
    settings = NotifySettings(webhook_urls=[url], poll_seconds=0.02)
    (endpoint,), delivery = settings.endpoints(), f"bad-{uuid.uuid4()}"
    async with notify.state.engine.begin() as conn:
        now = datetime.now(UTC)
        await pg_tasks.ensure_endpoint(
            conn, endpoint_id=endpoint.id, url=url, kind="standard", secret=endpoint.secret, now=now
        )
        await pg_tasks.insert_webhook(
            conn, delivery_id=delivery, endpoint_id=endpoint.id, event_type="task.opened", payload={}, now=now
        )
    poster = HttpxPoster()
    loops = notify.loops_of_another_instance(settings, poster)
    stop = asyncio.Event()
    running = asyncio.create_task(loops.run("webhooks", lambda: loops.webhooks_once(stop), stop))

    async def settled() -> list:
        return await notify.sql(
            "SELECT state, attempts FROM notify.webhook_deliveries WHERE id = :d AND state IN ('failed', 'delivered')",
            d=delivery,
        )

    try:
        rows = await eventually(settled, what="bad endpoint delivery settled")
    finally:
        stop.set()
        await running
        await poster.aclose()
    assert [(r["state"], r["attempts"]) for r in rows] == [("failed", 1)]


async def test_a_webhook_left_sending_by_a_crash_is_delivered_after_its_lease(notify: Notify):
    marker = f"crashed-{uuid.uuid4().hex[:8]}"
    async with notify.state.engine.begin() as conn:
        endpoint = await conn.scalar(text("SELECT id FROM notify.webhook_endpoints WHERE url LIKE '%/hook'"))
        await conn.execute(
            text(
                """INSERT INTO notify.webhook_deliveries
                (id, endpoint_id, event_type, payload, state, attempts, claimed_at, first_attempt_at, created_at)
                VALUES (:id, :e, 'task.opened', CAST(:p AS jsonb), 'sending', 1,
                        now() - interval '1 hour', now() - interval '1 hour', now())"""
            ),
            {"id": marker, "e": endpoint, "p": f'{{"marker": "{marker}"}}'},
        )
    await eventually(
        lambda: [r for r in notify.receiver.received if r[0] == "hook" and marker in r[2].decode()],
        what="webhook resent after the lease",
    )
