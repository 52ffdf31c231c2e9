"""Milestones on the real stack: a product's "Release Published" track event through Kafka, a CSM's
training through the API, both listed with the NPS of the 30 days before and after them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from notify_harness import Notify, eventually
from test_notify_feedback_routing import account_with_value, answer
from test_notify_tasks_api import BEARER

from touchline.shared import topics
from touchline.shared.messages import ProductEvent


async def listed(notify: Notify, **params: str) -> list[dict]:
    response = await notify.client.get("/v1/milestones", params=params, headers=BEARER)
    assert response.status_code == 200, response.text
    assert response.json()["window_days"] == 30
    return response.json()["milestones"]


async def test_a_release_event_and_a_csms_training_are_listed_with_nps_around_them(notify: Notify):
    account = await account_with_value(notify, arr=40_000)
    await answer(notify, account, "advocacy.nps_survey", {"survey": "nps", "score": 10, "comment": "great"})
    title = f"v{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    await notify.publish(
        topics.EVENTS,
        ProductEvent(message_id=str(uuid.uuid4()), account_id=account, kind="track", user_id="u1",
                     event="Release Published", properties={"title": title}, timestamp=now, received_at=now),
    )  # fmt: skip

    async def release() -> list[dict]:
        return [m for m in await listed(notify, account_id=account) if m["title"] == title]

    found = (await eventually(release, what="the release milestone"))[0]
    assert (found["kind"], found["account_id"], found["source"]) == ("release", None, "event")

    later = (notify.state.now() + timedelta(days=1)).isoformat()
    body = {"kind": "training", "title": "Admin training", "occurred_at": later, "account_id": account,
            "created_by": "csm@us.test"}  # fmt: skip
    created = await notify.client.post("/v1/milestones", json=body, headers=BEARER)
    assert created.status_code == 201, created.text
    training = next(m for m in await listed(notify, account_id=account) if m["id"] == created.json()["id"])
    # The account answered 10 the day before the training, nothing since.
    assert training["nps"] == {"before": 100.0, "after": None, "change": None, "answers_before": 1, "answers_after": 0}
    timeline = await notify.client.get(f"/v1/accounts/{account}/timeline", headers=BEARER)
    shown = [(i["channel"], i["title"]) for i in timeline.json()["items"] if i["channel"] == "milestone"]
    assert ("milestone", "Admin training") in shown and ("milestone", title) in shown
    other = await listed(notify, account_id=str(uuid.uuid4()))
    assert created.json()["id"] not in [m["id"] for m in other]  # another account's training is not listed


async def test_a_milestone_without_a_time_zone_or_of_an_unknown_kind_is_refused_naming_the_field(notify: Notify):
    naive = await notify.client.post(
        "/v1/milestones", json={"kind": "release", "title": "v1", "occurred_at": "2026-11-01T10:00:00"}, headers=BEARER
    )
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["body", "occurred_at"]
    kind = await notify.client.post(
        "/v1/milestones", json={"kind": "party", "title": "v1", "occurred_at": "2026-11-01T10:00Z"}, headers=BEARER
    )
    assert kind.status_code == 422 and kind.json()["detail"][0]["loc"] == ["body", "kind"]
    far = await notify.client.post(
        "/v1/milestones", json={"kind": "release", "title": "v1", "occurred_at": "9999-12-31T23:59Z"}, headers=BEARER
    )
    assert far.status_code == 422 and far.json()["detail"][0]["loc"] == ["body", "occurred_at"]
    since = await notify.client.get("/v1/milestones", params={"since": "yesterday"}, headers=BEARER)
    assert since.status_code == 422 and since.json()["detail"][0]["loc"] == ["query", "since"]
