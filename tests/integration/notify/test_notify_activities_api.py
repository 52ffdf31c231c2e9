"""Activities and tasks opened by hand through notify's API on the real stack: stored, published as
outcomes, on the timeline; bad input refused naming the field; a duplicate task is a 409 naming it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from notify_harness import Notify, eventually

BEARER = {"Authorization": "Bearer dev-api-token"}


def call(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "call", "contact": "hanako@customer.test", "occurred_at": "", "outcome": "agreed on a training date",
        "reached": True, "relationship": 4, "csm": "csm@us.test",
    }  # fmt: skip
    return {**body, **changes}


async def test_a_logged_call_is_stored_published_and_on_the_timeline(notify: Notify):
    account = str(uuid.uuid4())
    at = (notify.state.now() - timedelta(hours=2)).isoformat()
    response = await notify.client.post(f"/v1/accounts/{account}/activities", json=call(occurred_at=at), headers=BEARER)
    assert response.status_code == 201, response.text
    logged = response.json()
    assert logged["contact_counted"] is True and logged["relationship"] == 4

    outcomes = await eventually(lambda: notify.outcomes_of(account, "activity.logged"), what="activity.logged")
    assert outcomes[0].occurred_at.isoformat() == logged["occurred_at"]
    assert outcomes[0].activity == {
        "kind": "call", "reached": True, "relationship": 4, "occurred_at": logged["occurred_at"],
        "csm": "csm@us.test", "contact": "hanako@customer.test",
    }  # fmt: skip

    listed = await notify.client.get(f"/v1/accounts/{account}/activities", headers=BEARER)
    assert [a["id"] for a in listed.json()["activities"]] == [logged["id"]]
    timeline = await notify.client.get(f"/v1/accounts/{account}/timeline", headers=BEARER)
    items = [i for i in timeline.json()["items"] if i["channel"] == "activity"]
    assert [(i["id"], i["kind"], i["outcome"]) for i in items] == [(logged["id"], "call", "agreed on a training date")]


async def test_an_unreached_call_is_logged_but_published_as_no_contact(notify: Notify):
    account = str(uuid.uuid4())
    body = call(occurred_at=notify.state.now().date().isoformat(), reached=False, relationship=None)
    response = await notify.client.post(f"/v1/accounts/{account}/activities", json=body, headers=BEARER)
    assert response.status_code == 201 and response.json()["contact_counted"] is False
    outcomes = await eventually(lambda: notify.outcomes_of(account, "activity.logged"), what="activity.logged")
    assert outcomes[0].activity is not None and outcomes[0].activity["reached"] is False


async def test_bad_activities_are_refused_naming_the_field_and_nothing_is_stored(notify: Notify):
    account = str(uuid.uuid4())
    now = notify.state.now()
    cases = {
        "kind": call(kind="lunch", occurred_at=now.isoformat()),
        "occurred_at": call(occurred_at=(now + timedelta(days=2)).isoformat()),
        "relationship": call(occurred_at=now.isoformat(), relationship=6),
        "reached": call(occurred_at=now.isoformat(), reached=None),
        "contact": call(occurred_at=now.isoformat(), contact=" "),
    }
    for field, body in cases.items():
        response = await notify.client.post(f"/v1/accounts/{account}/activities", json=body, headers=BEARER)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", field], response.text
    listed = await notify.client.get(f"/v1/accounts/{account}/activities", headers=BEARER)
    assert listed.json()["activities"] == []


async def test_a_task_opened_by_hand_twice_is_a_409_naming_the_open_task(notify: Notify):
    account = str(uuid.uuid4())
    await notify.directory(account, owner="csm@us.test")
    due = (notify.state.now() + timedelta(days=3)).date().isoformat()
    body = {"account_id": account, "type": "check_in", "reason": "quarterly review", "priority": "high", "due_at": due}
    first = await notify.client.post("/v1/tasks", json=body, headers=BEARER)
    assert first.status_code == 201, first.text
    task = first.json()
    assert (task["owner"], task["status"], task["subject"]) == ("csm@us.test", "open", "check_in: quarterly review")
    assert task["due_at"].startswith(due)
    await eventually(lambda: notify.outcomes_of(account, "task.opened"), what="task.opened outcome")

    second = await notify.client.post("/v1/tasks", json={**body, "owner": "other@us.test"}, headers=BEARER)
    assert second.status_code == 409 and task["id"] in second.json()["detail"], second.text
    other = await notify.client.post("/v1/tasks", json={**body, "reason": "renewal prep"}, headers=BEARER)
    assert other.status_code == 201 and other.json()["id"] != task["id"]


async def test_a_task_due_in_the_past_or_without_a_type_is_refused_naming_the_field(notify: Notify):
    account = str(uuid.uuid4())
    past = (notify.state.now() - timedelta(days=1)).date().isoformat()
    cases = {
        "due_at": {"account_id": account, "type": "check_in", "reason": "r", "due_at": past},
        "type": {"account_id": account, "type": "  ", "reason": "r"},
        "priority": {"account_id": account, "type": "check_in", "reason": "r", "priority": "asap"},
        "body": {"account_id": account, "type": "check_in", "reason": "r", "body": "a\x00b"},
    }
    for field, body in cases.items():
        response = await notify.client.post("/v1/tasks", json=body, headers=BEARER)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][:2] == ["body", field], response.text
    listed = await notify.client.get("/v1/tasks", params={"account_id": account}, headers=BEARER)
    assert listed.json()["tasks"] == []


async def test_a_retried_activity_with_its_id_is_logged_and_published_once(notify: Notify):
    account = str(uuid.uuid4())
    body = call(occurred_at=notify.state.now().isoformat(), id=f"form-{uuid.uuid4().hex}")
    first = await notify.client.post(f"/v1/accounts/{account}/activities", json=body, headers=BEARER)
    again = await notify.client.post(f"/v1/accounts/{account}/activities", json=body, headers=BEARER)
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["id"] == first.json()["id"]
    other = await notify.client.post(
        f"/v1/accounts/{account}/activities", json={**body, "outcome": "something else"}, headers=BEARER
    )
    assert other.status_code == 409 and body["id"] in other.json()["detail"]
    await eventually(lambda: notify.outcomes_of(account, "activity.logged"), what="activity.logged")
    listed = await notify.client.get(f"/v1/accounts/{account}/activities", headers=BEARER)
    assert [a["outcome"] for a in listed.json()["activities"]] == ["agreed on a training date"]
    rows = await notify.sql("SELECT count(*) AS n FROM notify.outbox WHERE outcome_id LIKE :p", p=f"%{body['id']}%")
    assert rows[0]["n"] == 1
