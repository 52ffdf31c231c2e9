"""CSM tasks on the real stack: one open task per account+type+reason, snooze, API, CSM told by mail and webhooks."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from notify_harness import WEBHOOK_SECRET, Notify, eventually, task_command
from standardwebhooks import Webhook

from touchline.shared import topics

BEARER = {"Authorization": "Bearer dev-api-token"}


async def _tasks(notify: Notify, **params: str) -> list[dict]:
    response = await notify.client.get("/v1/tasks", params=params, headers=BEARER)
    assert response.status_code == 200
    return response.json()["tasks"]


async def _opened(notify: Notify, *, owner: str | None = "csm@us.test", **kw) -> tuple[str, dict]:
    account = str(uuid.uuid4())
    await notify.directory(account, owner=owner)
    await notify.publish(topics.COMMANDS, task_command(account, **kw))
    tasks = await eventually(lambda: _tasks(notify, account_id=account), what="task opened")
    return account, tasks[0]


async def test_a_task_command_opens_a_task_for_the_accounts_csm_and_tells_them(notify: Notify):
    account, task = await _opened(notify)
    assert task["owner"] == "csm@us.test" and task["status"] == "open" and task["priority"] == "high"
    assert task["due_at"] > task["created_at"]
    await eventually(lambda: notify.outcomes_of(account, "task.opened"), what="task.opened outcome")
    mails = await eventually(
        lambda: [m for m in notify.mails_to("csm@us.test") if task["subject"] in m["Subject"]], what="owner mail"
    )
    assert "List-Unsubscribe" not in mails[0]


async def test_a_repeat_updates_the_open_task_instead_of_creating_another(notify: Notify):
    account, task = await _opened(notify)
    await notify.publish(topics.COMMANDS, task_command(account))
    await eventually(lambda: notify.outcomes_of(account, "task.updated"), what="task.updated outcome")
    tasks = await _tasks(notify, account_id=account)
    assert [t["id"] for t in tasks] == [task["id"]] and tasks[0]["recurrences"] == 1


async def test_a_snoozed_task_holds_back_repeats_until_its_date(notify: Notify):
    account, task = await _opened(notify)
    until = (notify.state.now() + timedelta(days=7)).isoformat()
    response = await notify.client.post(f"/v1/tasks/{task['id']}/snooze", json={"until": until}, headers=BEARER)
    assert response.status_code == 200 and response.json()["status"] == "snoozed"
    await notify.publish(topics.COMMANDS, task_command(account))

    async def held() -> bool:
        rows = await notify.sql("SELECT held_back FROM notify.tasks WHERE id = :id", id=task["id"])
        return rows[0]["held_back"] == 1

    await eventually(held, what="repeat held back")
    tasks = await _tasks(notify, account_id=account)
    assert len(tasks) == 1 and tasks[0]["status"] == "snoozed"


async def test_snoozing_into_the_past_is_refused_naming_the_field(notify: Notify):
    _, task = await _opened(notify)
    past = (notify.state.now() - timedelta(days=1)).isoformat()
    response = await notify.client.post(f"/v1/tasks/{task['id']}/snooze", json={"until": past}, headers=BEARER)
    assert response.status_code == 422 and "until" in response.text


async def test_completing_a_task_publishes_task_completed_and_frees_the_key(notify: Notify):
    account, task = await _opened(notify)
    comment = await notify.client.post(f"/v1/tasks/{task['id']}/comment", json={"body": "called them"}, headers=BEARER)
    assert comment.status_code == 200 and comment.json()["comments"][0]["body"] == "called them"
    done = await notify.client.post(f"/v1/tasks/{task['id']}/complete", json={"reason": "renewed"}, headers=BEARER)
    assert done.status_code == 200 and done.json()["close_reason"] == "renewed"
    completed = await eventually(lambda: notify.outcomes_of(account, "task.completed"), what="task.completed outcome")
    assert completed[0].command_id == task["command_id"] and completed[0].playbook == "renewal"
    again = await notify.client.post(f"/v1/tasks/{task['id']}/complete", json={"reason": "x"}, headers=BEARER)
    assert again.status_code == 409
    await notify.publish(topics.COMMANDS, task_command(account))
    await eventually(lambda: len(notify.outcomes_of(account, "task.opened")) == 2, what="a new task after closing")


async def test_assigning_changes_the_owner_and_mails_the_new_owner(notify: Notify):
    _, task = await _opened(notify)
    response = await notify.client.post(
        f"/v1/tasks/{task['id']}/assign", json={"owner": "other@us.test"}, headers=BEARER
    )
    assert response.status_code == 200 and response.json()["owner"] == "other@us.test"
    await eventually(lambda: notify.mails_to("other@us.test"), what="mail to the new owner")
    assert [t["id"] for t in await _tasks(notify, owner="other@us.test")] == [task["id"]]


async def test_accounts_without_a_csm_take_turns_in_the_tiers_pool(notify: Notify):
    owners = set()
    for _ in range(2):
        account = str(uuid.uuid4())
        await notify.directory(account)
        async with notify.state.engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text("UPDATE notify.accounts SET tier = 'tech' WHERE account_id = :a"), {"a": account})
        await notify.publish(topics.COMMANDS, task_command(account))
        tasks = await eventually(lambda a=account: _tasks(notify, account_id=a), what="pool task")
        owners.add(tasks[0]["owner"])
    assert owners == {"pool-a@us.test", "pool-b@us.test"}


async def test_the_task_api_needs_the_bearer_token(notify: Notify):
    assert (await notify.client.get("/v1/tasks")).status_code == 401
    assert (await notify.client.get("/v1/tasks/nope", headers=BEARER)).status_code == 404


async def test_webhooks_are_signed_per_standard_webhooks_and_410_disables_the_endpoint(notify: Notify):
    _, task = await _opened(notify)

    def hooks(path: str) -> list:
        return [r for r in notify.receiver.received if r[0] == path and task["id"] in r[2].decode()]

    received = await eventually(lambda: hooks("hook"), what="webhook delivered")
    _, headers, body = received[0]
    payload = Webhook(WEBHOOK_SECRET).verify(body, headers)
    assert payload["type"] == "task.opened" and payload["data"]["id"] == task["id"]
    slack = await eventually(
        lambda: [r for r in notify.receiver.received if r[0] == "slack" and task["subject"] in r[2].decode()],
        what="slack",
    )
    assert "text" in json.loads(slack[0][2])
    await eventually(
        lambda: notify.sql(
            "SELECT 1 FROM notify.webhook_endpoints WHERE url LIKE '%/gone' AND disabled_at IS NOT NULL"
        ),
        what="gone endpoint disabled",
    )


async def test_the_account_timeline_shows_mails_tasks_and_in_app_messages(notify: Notify):
    account, task = await _opened(notify)
    response = await notify.client.get(f"/v1/accounts/{account}/timeline", headers=BEARER)
    assert response.status_code == 200
    assert [i["id"] for i in response.json()["items"] if i["channel"] == "task"] == [task["id"]]
