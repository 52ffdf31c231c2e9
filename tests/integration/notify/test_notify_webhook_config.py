"""Webhook endpoints follow configuration (real stack): one removed from it is no longer sent to, and
instances with different configurations sharing one database leave each other's webhooks alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from notify_harness import Notify, eventually, task_command

from touchline.notify.adapters import pg_tasks
from touchline.notify.domain.endpoints import endpoint_id
from touchline.notify.settings import NotifySettings
from touchline.shared import topics


class RecordingPoster:
    """The webhook port of a second instance: records what it would have posted."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def post(self, url: str, *, body: bytes, headers: Mapping[str, str]) -> int:
        self.urls.append(url)
        return 204


async def _queued_for(notify: Notify, url: str, *, configured_ago: timedelta) -> str:
    """An endpoint another configuration named ``configured_ago``, with one webhook still queued for it."""
    endpoint, delivery = endpoint_id(url), f"queued-{uuid.uuid4()}"
    async with notify.state.engine.begin() as conn:
        stamp = datetime.now(UTC) - configured_ago
        await pg_tasks.ensure_endpoint(conn, endpoint_id=endpoint, url=url, kind="standard", secret=None, now=stamp)
        await pg_tasks.insert_webhook(
            conn, delivery_id=delivery, endpoint_id=endpoint, event_type="task.opened", payload={}, now=stamp
        )
    return delivery


async def _state(notify: Notify, delivery: str) -> dict:
    rows = await notify.sql(
        "SELECT state, attempts, last_error FROM notify.webhook_deliveries WHERE id = :d", d=delivery
    )
    return dict(rows[0])


async def _task_announced(notify: Notify) -> str:
    """Open a task through the running instance and wait until its webhook reached /hook."""
    account = str(uuid.uuid4())
    await notify.directory(account, owner="csm@us.test")
    await notify.publish(topics.COMMANDS, task_command(account))
    await eventually(
        lambda: [r for r in notify.receiver.received if r[0] == "hook" and account in r[2].decode()],
        what="task webhook delivered to /hook",
    )
    return account


async def test_webhooks_queued_for_an_endpoint_removed_from_every_configuration_are_recorded_and_never_sent(
    notify: Notify,
):
    removed = notify.receiver.url(f"/removed-{uuid.uuid4().hex[:8]}")
    delivery = await _queued_for(notify, removed, configured_ago=timedelta(hours=1))
    state = await eventually(lambda: _unconfigured(notify, delivery), what="queued webhook recorded as unconfigured")
    assert state["attempts"] == 0 and "no longer configured" in state["last_error"]
    assert not [r for r in notify.receiver.received if r[0] == removed.rsplit("/", 1)[1]]


async def _unconfigured(notify: Notify, delivery: str) -> dict | None:
    state = await _state(notify, delivery)
    return state if state["state"] == "unconfigured" else None


async def test_a_task_is_announced_only_to_endpoints_this_instance_configures(notify: Notify):
    elsewhere = notify.receiver.url(f"/elsewhere-{uuid.uuid4().hex[:8]}")
    # Named a moment ago by another running instance: not ours to send, nor to give up on.
    queued = await _queued_for(notify, elsewhere, configured_ago=timedelta(seconds=1))
    account = await _task_announced(notify)
    rows = await notify.sql(
        """SELECT e.url FROM notify.webhook_deliveries w JOIN notify.webhook_endpoints e ON e.id = w.endpoint_id
           WHERE w.payload::text LIKE :a""",
        a=f"%{account}%",
    )
    assert rows and elsewhere not in {r["url"] for r in rows}
    assert (await _state(notify, queued))["state"] == "pending"


async def test_an_instance_with_another_configuration_neither_sends_nor_drops_the_others_webhooks(notify: Notify):
    poster = RecordingPoster()
    other = notify.loops_of_another_instance(
        NotifySettings(webhook_urls=[notify.receiver.url("/other-only")], poll_seconds=0.02), poster
    )
    stop = asyncio.Event()
    running = asyncio.create_task(other.run("webhooks", lambda: other.webhooks_once(stop), stop))
    try:
        account = await _task_announced(notify)
    finally:
        stop.set()
        await running
    assert poster.urls == []

    async def delivered() -> list:
        return await notify.sql(
            """SELECT w.state FROM notify.webhook_deliveries w JOIN notify.webhook_endpoints e ON e.id = w.endpoint_id
               WHERE e.url LIKE '%/hook' AND w.payload::text LIKE :a AND w.state = 'delivered'""",
            a=f"%{account}%",
        )

    # Recorded by the instance that configures /hook (just after the receiver answered it).
    assert len(await eventually(delivered, what="/hook webhook recorded delivered")) == 1
