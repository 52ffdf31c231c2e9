"""One URL named by configurations with different secrets (instances sharing one database, a secret
rotated replica by replica): each signs with its own secret, a rotated secret takes the old queue over,
and a 410 disables the URL under every secret (real stack, real HTTP receiver, standardwebhooks)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from notify_harness import Notify
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from touchline.notify.adapters import pg_tasks
from touchline.notify.adapters.webhooks import HttpxPoster
from touchline.notify.delivery import wall_now
from touchline.notify.domain.endpoints import Endpoint
from touchline.notify.settings import NotifySettings

SECRET_A = "whsec_" + "c2VjcmV0LW9mLWluc3RhbmNlLWEtMDEyMzQ1Njc="
SECRET_B = "whsec_" + "c2VjcmV0LW9mLWluc3RhbmNlLWItNzY1NDMyMTA="


class Instance:
    """Another notify instance's webhook side, sharing the session's database, posting over real HTTP."""

    def __init__(self, notify: Notify, *, url: str, secret: str) -> None:
        self.notify = notify
        self.settings = NotifySettings(webhook_urls=[url], webhook_secret=SecretStr(secret), poll_seconds=0.02)
        self.endpoint: Endpoint = self.settings.endpoints()[0]
        self.poster = HttpxPoster()
        self.loops = notify.loops_of_another_instance(self.settings, self.poster)

    async def start(self, *, configured_ago: timedelta = timedelta(0)) -> Instance:
        """Register its endpoint as main.py does at start-up."""
        e = self.endpoint
        async with self.notify.state.engine.begin() as conn:
            await pg_tasks.ensure_endpoint(
                conn, endpoint_id=e.id, url=e.url, kind=e.kind, secret=e.secret, now=wall_now() - configured_ago
            )
        return self

    async def queue(self) -> str:
        delivery = f"{self.endpoint.id}:test-{uuid.uuid4()}"
        async with self.notify.state.engine.begin() as conn:
            await pg_tasks.insert_webhook(
                conn, delivery_id=delivery, endpoint_id=self.endpoint.id, event_type="task.opened",
                payload={"delivery": delivery}, now=wall_now(),
            )  # fmt: skip
        return delivery

    async def drain(self) -> None:
        stop = asyncio.Event()
        while await self.loops.webhooks_once(stop):
            pass

    async def stop(self) -> None:
        await self.poster.aclose()


def _post_of(notify: Notify, delivery: str) -> tuple[dict[str, str], bytes] | None:
    for _, headers, body in notify.receiver.received:
        if headers.get("webhook-id") == delivery:
            return headers, body
    return None


def _url(notify: Notify, prefix: str) -> tuple[str, str]:
    path = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return path, notify.receiver.url(f"/{path}")


async def test_two_instances_naming_one_url_with_different_secrets_each_sign_with_their_own(notify: Notify):
    _, url = _url(notify, "shared")
    a = await Instance(notify, url=url, secret=SECRET_A).start()
    b = await Instance(notify, url=url, secret=SECRET_B).start()  # started last: it used to win the secret
    try:
        from_a, from_b = await a.queue(), await b.queue()
        await a.drain()
        await b.drain()
    finally:
        await a.stop()
        await b.stop()
    assert a.endpoint.id != b.endpoint.id
    headers_a, body_a = _post_of(notify, from_a) or pytest.fail("A's webhook not posted")
    headers_b, body_b = _post_of(notify, from_b) or pytest.fail("B's webhook not posted")
    assert Webhook(SECRET_A).verify(body_a, headers_a)["delivery"] == from_a
    assert Webhook(SECRET_B).verify(body_b, headers_b)["delivery"] == from_b
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET_B).verify(body_a, headers_a)
    rows = await notify.sql("SELECT id, secret FROM notify.webhook_endpoints WHERE url = :u ORDER BY id", u=url)
    assert {(r["id"], r["secret"]) for r in rows} == {(a.endpoint.id, SECRET_A), (b.endpoint.id, SECRET_B)}


async def test_after_a_secret_rotation_what_was_queued_under_the_old_secret_is_sent_with_the_new_one(
    notify: Notify,
):
    _, url = _url(notify, "rotated")
    # The last replica with the old secret stopped an hour ago, leaving a webhook queued (e.g. endpoint down).
    old = await Instance(notify, url=url, secret=SECRET_A).start(configured_ago=timedelta(hours=1))
    new = await Instance(notify, url=url, secret=SECRET_B).start()
    try:
        queued = await old.queue()
        await new.drain()
    finally:
        await old.stop()
        await new.stop()
    headers, body = _post_of(notify, queued) or pytest.fail("not posted")
    assert Webhook(SECRET_B).verify(body, headers)["delivery"] == queued
    rows = await notify.sql("SELECT state, endpoint_id FROM notify.webhook_deliveries WHERE id = :d", d=queued)
    assert (rows[0]["state"], rows[0]["endpoint_id"]) == ("delivered", new.endpoint.id)


async def test_a_410_disables_the_url_under_every_secret_including_one_configured_later(notify: Notify):
    path, url = _url(notify, "gone")
    a = await Instance(notify, url=url, secret=SECRET_A).start()
    b = await Instance(notify, url=url, secret=SECRET_B).start()
    later = Instance(notify, url=url, secret="whsec_" + "bGF0ZXItc2VjcmV0LTAxMjM0NTY3ODk=")
    try:
        await a.queue()
        await a.drain()  # the receiver answers 410
        queued_b = await b.queue()
        await b.drain()
        await later.start()
        queued_later = await later.queue()
        await later.drain()
    finally:
        for instance in (a, b, later):
            await instance.stop()
    assert len([r for r in notify.receiver.received if r[0] == path]) == 1
    rows = await notify.sql("SELECT disabled_reason FROM notify.webhook_endpoints WHERE url = :u", u=url)
    assert [r["disabled_reason"] for r in rows] == ["410 Gone"] * 3
    states = await notify.sql(
        "SELECT state FROM notify.webhook_deliveries WHERE id = ANY(:ids)", ids=[queued_b, queued_later]
    )
    assert [r["state"] for r in states] == ["disabled", "disabled"]
