"""In-app on the real stack: the widget's API flow for one user; another user's token gets nothing."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import uvicorn
from notify_harness import INAPP_SECRET, Notify, eventually, inapp_command

from touchline.notify.domain.tokens import user_token
from touchline.shared import topics
from touchline.shared.stack.layout import free_port


def auth(user_id: str, secret: str = INAPP_SECRET) -> dict[str, str]:
    return {"X-Touchline-User": user_id, "X-Touchline-User-Token": user_token(secret, user_id)}


async def _messages(notify: Notify, user_id: str) -> list[dict]:
    response = await notify.client.get("/v1/inapp/messages", headers=auth(user_id))
    assert response.status_code == 200
    return response.json()["messages"]


async def _survey_for(notify: Notify, template: str = "advocacy.nps_survey") -> tuple[str, str, list[dict]]:
    account, user = str(uuid.uuid4()), f"user-{uuid.uuid4().hex[:8]}"
    await notify.publish(topics.COMMANDS, inapp_command(account, [user], template))
    messages = await eventually(lambda: _messages(notify, user), what="in-app message listed")
    return account, user, messages


async def test_the_widget_flow_lists_a_survey_and_records_seen_and_the_answer(notify: Notify):
    account, user, messages = await _survey_for(notify)
    message = messages[0]
    assert message["survey"] == "nps" and len(message["choices"]) == 11
    events = f"/v1/inapp/messages/{message['id']}/events"
    assert (await notify.client.post(events, json={"type": "seen"}, headers=auth(user))).status_code == 200
    answer = {"survey": "nps", "score": 9, "comment": "great"}
    response = await notify.client.post(events, json={"type": "answered", "answer": answer}, headers=auth(user))
    assert response.status_code == 200
    answered = await eventually(lambda: notify.outcomes_of(account, "inapp.answered"), what="answered outcome")
    assert answered[0].answer == answer and answered[0].user_id == user
    assert notify.outcomes_of(account, "inapp.seen") and notify.outcomes_of(account, "inapp.shown")
    assert await _messages(notify, user) == []  # answered: not shown again


async def test_a_wrong_or_missing_user_token_is_refused(notify: Notify):
    _, user, _ = await _survey_for(notify)
    wrong = await notify.client.get("/v1/inapp/messages", headers=auth(user, secret="not-the-secret"))
    missing = await notify.client.get("/v1/inapp/messages", headers={"X-Touchline-User": user})
    assert wrong.status_code == 401 and missing.status_code == 401


async def test_another_user_can_neither_read_nor_answer_someone_elses_message(notify: Notify):
    _, _, messages = await _survey_for(notify)
    intruder = f"intruder-{uuid.uuid4().hex[:8]}"
    assert await _messages(notify, intruder) == []
    response = await notify.client.post(
        f"/v1/inapp/messages/{messages[0]['id']}/events",
        json={"type": "answered", "answer": {"survey": "nps", "score": 0}},
        headers=auth(intruder),
    )
    assert response.status_code == 404
    rows = await notify.sql("SELECT answer FROM notify.inapp_messages WHERE id = :id", id=messages[0]["id"])
    assert rows[0]["answer"] is None


async def test_an_answer_that_does_not_fit_the_survey_is_refused_naming_the_field(notify: Notify):
    _, user, messages = await _survey_for(notify)
    response = await notify.client.post(
        f"/v1/inapp/messages/{messages[0]['id']}/events",
        json={"type": "answered", "answer": {"survey": "nps", "score": 42}},
        headers=auth(user),
    )
    assert response.status_code == 422 and "answer.score" in response.text


async def test_the_frequency_cap_holds_back_a_second_popup_shown_within_the_window(notify: Notify):
    account, user, first = await _survey_for(notify)
    await notify.publish(topics.COMMANDS, inapp_command(account, [user], "onboarding.tips"))

    async def stored() -> bool:
        rows = await notify.sql("SELECT count(*) AS n FROM notify.inapp_messages WHERE user_id = :u", u=user)
        return rows[0]["n"] == 2

    await eventually(stored, what="second message stored")
    assert [m["id"] for m in await _messages(notify, user)] == [first[0]["id"]]


async def test_the_live_stream_pushes_a_new_popup(notify: Notify):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(notify.app, host="127.0.0.1", port=port, lifespan="off", log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, what="http server up")
        account, user = str(uuid.uuid4()), f"user-{uuid.uuid4().hex[:8]}"
        token = user_token(INAPP_SECRET, user)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            async with client.stream("GET", "/v1/inapp/stream", params={"user": user, "token": token}) as stream:
                assert stream.status_code == 200
                await notify.publish(topics.COMMANDS, inapp_command(account, [user], "onboarding.tips"))
                event = None
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line.removeprefix("data: "))
                        break
        assert event is not None and event["template"] == "onboarding.tips"
    finally:
        server.should_exit = True
        await task


async def test_the_widget_script_and_demo_page_are_served(notify: Notify):
    script = await notify.client.get("/widget.js")
    assert script.status_code == 200 and "X-Touchline-User-Token" in script.text
    demo = await notify.client.get("/demo", params={"user": "demo-1"})
    assert demo.status_code == 200 and user_token(INAPP_SECRET, "demo-1") in demo.text
