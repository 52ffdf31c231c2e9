"""An endpoint that answered 410 Gone is told nothing more (real stack, real HTTP receiver): what was
queued for it, in the same claimed batch or later, is recorded as not sent with the reason."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from notify_harness import WEBHOOK_SECRET, Notify

from touchline.notify.adapters import pg_tasks
from touchline.notify.adapters.webhooks import HttpxPoster
from touchline.notify.delivery import Loops, wall_now
from touchline.notify.domain.endpoints import endpoint_id
from touchline.notify.settings import NotifySettings


async def _queue(notify: Notify, endpoint: str, n: int) -> list[str]:
    ids = [f"gone-test-{uuid.uuid4()}" for _ in range(n)]
    async with notify.state.engine.begin() as conn:
        for delivery in ids:
            await pg_tasks.insert_webhook(
                conn, delivery_id=delivery, endpoint_id=endpoint, event_type="task.opened", payload={}, now=wall_now()
            )
    return ids


async def _states(notify: Notify, ids: list[str]) -> dict[str, tuple[str, int, str | None]]:
    rows = await notify.sql(
        "SELECT id, state, attempts, last_error FROM notify.webhook_deliveries WHERE id = ANY(:ids)", ids=ids
    )
    return {r["id"]: (r["state"], r["attempts"], r["last_error"]) for r in rows}


async def _drain(loops: Loops) -> None:
    stop = asyncio.Event()
    while await loops.webhooks_once(stop):
        pass


@pytest.mark.parametrize("batch", [20, 1], ids=["claimed-together", "claimed-one-by-one"])
async def test_after_a_410_nothing_more_is_posted_to_the_endpoint_and_the_rest_is_recorded_not_sent(
    notify: Notify, batch: int
):
    path = f"gone-{uuid.uuid4().hex[:8]}"
    url = notify.receiver.url(f"/{path}")
    secret = WEBHOOK_SECRET
    # A second instance configuring only this endpoint, posting over real HTTP to the receiver.
    settings = NotifySettings(webhook_urls=[url], webhook_secret=secret, poll_seconds=0.02)  # type: ignore[arg-type]
    poster = HttpxPoster()
    loops = notify.loops_of_another_instance(settings, poster, batch=batch)
    (configured,) = settings.endpoints()
    endpoint = configured.id
    async with notify.state.engine.begin() as conn:
        await pg_tasks.ensure_endpoint(
            conn, endpoint_id=endpoint, url=url, kind="standard", secret=configured.secret, now=wall_now()
        )
    try:
        # Three queued before the 410 (in one claimed batch, or waiting for the next): only one is posted.
        first = await _queue(notify, endpoint, 3)
        await _drain(loops)
        # One queued after the endpoint was disabled (a consumer that read it live just before).
        late = await _queue(notify, endpoint, 1)
        await _drain(loops)
    finally:
        await poster.aclose()

    assert len([r for r in notify.receiver.received if r[0] == path]) == 1
    states = await _states(notify, first + late)
    assert sorted(s for s, _, _ in states.values()) == ["disabled", "disabled", "disabled", "failed"]
    for state, attempts, error in states.values():
        if state == "disabled":
            assert attempts == 0 and error == "endpoint disabled (410 Gone); not sent"
        else:
            assert attempts == 1 and error == "HTTP 410"
    disabled = await notify.sql("SELECT disabled_reason FROM notify.webhook_endpoints WHERE id = :e", e=endpoint)
    assert disabled[0]["disabled_reason"] == "410 Gone"


async def test_a_post_that_fails_after_another_replica_disabled_the_endpoint_stays_recorded_not_sent(notify: Notify):
    url = notify.receiver.url(f"/gone-{uuid.uuid4().hex[:8]}")
    endpoint = endpoint_id(url)
    async with notify.state.engine.begin() as conn:
        await pg_tasks.ensure_endpoint(
            conn, endpoint_id=endpoint, url=url, kind="standard", secret=None, now=wall_now()
        )
    retried, posted = await _queue(notify, endpoint, 2)
    async with notify.state.engine.begin() as conn:
        claimed = await pg_tasks.claim_webhooks(conn, wall_now=wall_now(), limit=10, endpoint_ids=[endpoint])
    claims = {r["id"]: r["claimed_at"] for r in claimed}
    async with notify.state.engine.begin() as conn:  # another replica got 410 for the same endpoint meanwhile
        await pg_tasks.disable_endpoint(conn, endpoint, reason="410 Gone", now=wall_now())
    async with notify.state.engine.begin() as conn:
        assert not await pg_tasks.still_claimed(conn, retried, claimed_at=claims[retried])
        kept = await pg_tasks.set_webhook_state(
            conn, retried, claimed_at=claims[retried], state="pending", error="HTTP 503", next_attempt_at=wall_now()
        )
        # A post already in flight when the endpoint was disabled did reach it: that fact is recorded.
        delivered = await pg_tasks.set_webhook_state(
            conn, posted, claimed_at=claims[posted], state="delivered", error=None, next_attempt_at=None
        )
    assert not kept and delivered
    states = await _states(notify, [retried, posted])
    assert states[retried][0] == "disabled" and states[posted][0] == "delivered"
