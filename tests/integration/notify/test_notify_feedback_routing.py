"""Feedback that reaches product, through the customer's path on the real stack: a team subscribes to a
theme over the API, a customer answers the in-app NPS survey with a comment on that theme, and the team's
receiver gets it signed per Standard Webhooks (verified as a receiver would, with standardwebhooks) and
its Slack channel gets the message, both with the account's tier and ARR; the weekly digest follows; a
detractor who named a feature useful gets their CSM a "value not realised" task."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

from notify_harness import Notify, eventually, inapp_command
from standardwebhooks import Webhook
from test_notify_inapp_api import _messages, auth
from test_notify_tasks_api import BEARER

from touchline.notify.routing import Router
from touchline.shared import topics
from touchline.shared.clock import SimulatedClock
from touchline.shared.messages import ProductEvent

TIER = "high"


async def account_with_value(notify: Notify, *, arr: int) -> str:
    account = str(uuid.uuid4())
    now = datetime.now(UTC)
    traits = {"name": f"Acme {account[:4]}", "arr": arr, "csm_owner": "csm@us.test"}
    await notify.publish(
        topics.EVENTS,
        ProductEvent(message_id=str(uuid.uuid4()), account_id=account, kind="group", traits=traits, timestamp=now,
                     received_at=now),
    )  # fmt: skip

    async def known() -> bool:
        rows = await notify.sql("SELECT arr FROM notify.accounts WHERE account_id = :a", a=account)
        return bool(rows) and rows[0]["arr"] == arr

    await eventually(known, what="the account's ARR in notify's directory")
    return account


async def answer(notify: Notify, account: str, template: str, answer: dict, **variables) -> None:
    """The customer answers the survey the product shows them (only among what it offers)."""
    user = f"user-{uuid.uuid4().hex[:8]}"
    # touch names the account's tier in every command it sends.
    await notify.publish(topics.COMMANDS, inapp_command(account, [user], template, tier=TIER, **variables))
    message = (await eventually(lambda: _messages(notify, user), what=f"{template} listed"))[0]
    response = await notify.client.post(
        f"/v1/inapp/messages/{message['id']}/events", json={"type": "answered", "answer": answer}, headers=auth(user)
    )
    assert response.status_code in (200, 202), response.text


async def subscribe(notify: Notify, theme: str, kind: str) -> tuple[dict, str]:
    path = f"team-{kind}-{uuid.uuid4().hex[:8]}"
    body = {"theme": theme, "team": "product-ux", "kind": kind, "url": notify.receiver.url(f"/{path}")}
    response = await notify.client.post("/v1/theme-subscriptions", json=body, headers=BEARER)
    assert response.status_code == 201, response.text
    return response.json(), path


def posts_to(notify: Notify, path: str) -> list[tuple[dict[str, str], bytes]]:
    return [(headers, body) for p, headers, body in notify.receiver.received if p == path]


async def test_a_new_comment_on_a_subscribed_theme_reaches_the_team_signed_and_on_slack(notify: Notify):
    signed, signed_path = await subscribe(notify, "usability", "standard")
    _, slack_path = await subscribe(notify, "usability", "slack")
    _, other_path = await subscribe(notify, "price", "standard")
    assert signed["secret"].startswith("whsec_")
    account = await account_with_value(notify, arr=1_200_000)

    await answer(notify, account, "advocacy.nps_survey", {"survey": "nps", "score": 5, "comment": "画面が使いにくい"})

    headers, body = (await eventually(lambda: posts_to(notify, signed_path), what="the signed webhook"))[0]
    payload = Webhook(signed["secret"]).verify(body, headers)  # raises unless the signature is valid
    assert payload["type"] == "feedback.comment"
    data = payload["data"]
    assert (data["theme"], data["account_id"], data["tier"], data["arr"]) == ("usability", account, "high", 1_200_000)
    assert (data["survey"], data["score"], data["comment"]) == ("nps", 5, "画面が使いにくい")
    _, slack_body = (await eventually(lambda: posts_to(notify, slack_path), what="the Slack message"))[0]
    text = json.loads(slack_body)["text"]
    assert "[usability]" in text and "画面が使いにくい" in text and "high" in text and "ARR 1,200,000" in text
    assert posts_to(notify, other_path) == []  # a comment not on "price" is not sent to its subscribers

    # The weekly digest: a week later (service clock), last week's comments on the theme, once.
    router: Router = notify.app.state.feedback_router
    later = dataclasses.replace(router, clock=SimulatedClock(notify.state.now() + timedelta(days=7)))
    assert await later.digest_once() >= 2 and await later.digest_once() == 0
    notify.state.loops.poke("webhooks")
    digests = await eventually(
        lambda: [p for p in posts_to(notify, signed_path) if json.loads(p[1])["type"] == "feedback.digest"],
        what="the digest",
    )
    digest = Webhook(signed["secret"]).verify(digests[0][1], digests[0][0])["data"]
    assert digest["theme"] == "usability" and digest["comments"] >= 1
    assert any(line["account_id"] == account for line in digest["latest"])


async def test_a_deleted_subscription_receives_nothing_more(notify: Notify):
    signed, path = await subscribe(notify, "performance", "standard")
    listed = await notify.client.get("/v1/theme-subscriptions", params={"theme": "performance"}, headers=BEARER)
    assert signed["id"] in [s["id"] for s in listed.json()["subscriptions"]]
    assert all("secret" not in s for s in listed.json()["subscriptions"])
    assert (await notify.client.delete(f"/v1/theme-subscriptions/{signed['id']}", headers=BEARER)).status_code == 204
    assert (await notify.client.delete(f"/v1/theme-subscriptions/{signed['id']}", headers=BEARER)).status_code == 404
    account = await account_with_value(notify, arr=3000)
    await answer(notify, account, "advocacy.nps_survey", {"survey": "nps", "score": 4, "comment": "too slow"})

    async def routed() -> bool:
        rows = await notify.sql("SELECT 1 FROM notify.feedback_routed WHERE account_id = :a", a=account)
        return bool(rows)

    # The session's simulated clock stands still, so both answers carry the same time: the rule "a
    # subscription hears answers given from its creation on" is then decided by routing order alone.
    await eventually(routed, what='"too slow" routed (to nobody subscribed)')
    marker, marker_path = await subscribe(notify, "performance", "standard")  # made after: hears the next one
    await answer(notify, account, "advocacy.nps_survey", {"survey": "nps", "score": 3, "comment": "slow again"})
    heard = await eventually(lambda: posts_to(notify, marker_path), what="the later subscription's webhook")
    # Routed in answer order: "too slow" was routed before "slow again", to nobody subscribed then.
    mine = [Webhook(marker["secret"]).verify(body, headers)["data"] for headers, body in heard]
    assert [d["comment"] for d in mine if d["account_id"] == account] == ["slow again"]
    assert posts_to(notify, path) == []


async def test_subscribing_to_an_unknown_theme_or_a_bad_url_is_refused_naming_the_field(notify: Notify):
    url = notify.receiver.url("/x")
    bad_theme = await notify.client.post(
        "/v1/theme-subscriptions", json={"theme": "nope", "team": "t", "url": url}, headers=BEARER
    )
    assert bad_theme.status_code == 422 and bad_theme.json()["detail"][0]["loc"] == ["body", "theme"]
    bad_url = await notify.client.post(
        "/v1/theme-subscriptions", json={"theme": "usability", "team": "t", "url": "ftp://x"}, headers=BEARER
    )
    assert bad_url.status_code == 422 and bad_url.json()["detail"][0]["loc"] == ["body", "url"]
    bad_kind = await notify.client.post(
        "/v1/theme-subscriptions", json={"theme": "usability", "team": "t", "url": url, "kind": "sms"}, headers=BEARER
    )
    assert bad_kind.status_code == 422 and "kind" in bad_kind.json()["detail"][0]["loc"]


async def test_a_detractor_who_names_a_feature_useful_gets_the_csm_a_value_not_realised_task(notify: Notify):
    account = await account_with_value(notify, arr=50_000)
    await answer(notify, account, "advocacy.nps_survey", {"survey": "nps", "score": 3, "comment": "not worth it"})
    await answer(
        notify, account, "risk.feature_survey", {"survey": "feature_usefulness", "features": ["reports"]},
        features=["reports", "alerts"],
    )  # fmt: skip

    async def task() -> list:
        return await notify.sql(
            "SELECT * FROM notify.tasks WHERE account_id = :a AND type = 'value_not_realised'", a=account
        )

    rows = await eventually(task, what="the value-not-realised task")
    assert len(rows) == 1 and rows[0]["owner"] == "csm@us.test" and "reports" in rows[0]["subject"]
