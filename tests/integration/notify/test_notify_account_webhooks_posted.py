"""A band change told by touch reaches a CRM's endpoint signed per Standard Webhooks (real Kafka,
Postgres and HTTP receiver), once even when the command is delivered twice; Slack is not told."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from notify_harness import WEBHOOK_SECRET, Notify, eventually
from standardwebhooks import Webhook

from touchline.shared import topics
from touchline.touch.crm_events import band_changed, tier_changed


async def test_a_band_change_reaches_the_endpoint_signed_and_once(notify: Notify) -> None:
    account = f"crm-{uuid.uuid4().hex[:10]}"
    at = datetime.now(UTC).replace(microsecond=0)
    command = band_changed(account_id=account, cause="score-1", band="caution", previous="good", score=47.5, at=at)
    await notify.publish(topics.COMMANDS, command)
    await notify.publish(topics.COMMANDS, command)  # a producer's retry: the same command id
    # Same account, same partition, after both copies: once it is posted, both copies were consumed.
    marker = tier_changed(account_id=account, tier="high", previous="low", phase="adoption", reason="arr", at=at)
    await notify.publish(topics.COMMANDS, marker)

    def posts(kind: str) -> list:
        return [
            r
            for r in notify.receiver.received
            if r[0] in ("hook", "slack") and account in r[2].decode() and kind in r[2].decode()
        ]

    await eventually(lambda: posts("account.tier_changed"), what="the later tier change posted")
    await eventually(lambda: posts("account.band_changed"), what="the band change posted")
    queued = await notify.sql(
        """SELECT e.url FROM notify.webhook_deliveries d JOIN notify.webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.event_type = 'account.band_changed' AND d.payload->'data'->>'account_id' = :a""",
        a=account,
    )
    urls = [row["url"] for row in queued]
    assert len([u for u in urls if u.endswith("/hook")]) == 1 and not [u for u in urls if u.endswith("/slack")]
    [(path, headers, body)] = posts("account.band_changed")
    assert path == "hook"
    # As a CRM's receiver does: the signature over id, timestamp and body, with the shared secret.
    payload = Webhook(WEBHOOK_SECRET).verify(body, headers)
    assert payload == {
        "type": "account.band_changed",
        "timestamp": at.isoformat(),
        "data": {
            "account_id": account,
            "band": "caution",
            "previous_band": "good",
            "score": 47.5,
            "changed_at": at.isoformat(),
        },
    }
    assert json.loads(posts("account.tier_changed")[0][2])["data"]["previous_tier"] == "low"
