"""GET /v1/answers on the real stack: answers given in-app and by one-click email links, listed for the console."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from notify_harness import INAPP_SECRET, Notify, email_command, eventually, inapp_command
from sqlalchemy import text

from touchline.notify.domain.tokens import user_token
from touchline.shared import topics

BEARER = {"Authorization": "Bearer dev-api-token"}


def _auth(user_id: str) -> dict[str, str]:
    return {"X-Touchline-User": user_id, "X-Touchline-User-Token": user_token(INAPP_SECRET, user_id)}


async def _answer_in_app(notify: Notify, account: str, user: str, answer: dict, template: str) -> None:
    await notify.publish(topics.COMMANDS, inapp_command(account, [user], template))

    async def listed() -> list[dict]:
        response = await notify.client.get("/v1/inapp/messages", headers=_auth(user))
        return response.json()["messages"]

    message = (await eventually(listed, what=f"in-app {template} for {user}"))[0]
    response = await notify.client.post(
        f"/v1/inapp/messages/{message['id']}/events", json={"type": "answered", "answer": answer}, headers=_auth(user)
    )
    assert response.status_code == 200


async def _nps_mail_links(notify: Notify, account: str) -> list[str]:
    """The eleven one-click score links (0..10) of an NPS mail to the account's contact."""
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, mailer=(address, "en"))
    await notify.publish(topics.COMMANDS, email_command(account, "advocacy.nps_survey"))
    mail = (await eventually(lambda: notify.mails_to(address), what=f"NPS mail to {address}"))[0]
    body = mail.get_body(preferencelist=("html",)).get_content()
    return re.findall(r'http://notify\.test(/t/a/[^"\s<]+)', body)


async def _answers(notify: Notify, **params: str) -> dict:
    response = await notify.client.get("/v1/answers", params=params, headers=BEARER)
    assert response.status_code == 200, response.text
    return response.json()


async def test_in_app_and_one_click_email_answers_are_listed_with_who_where_and_when(notify: Notify):
    account = str(uuid.uuid4())
    await _answer_in_app(notify, account, "u-inapp", {"survey": "nps", "score": 9, "comment": "画面が見やすい"},
                         "advocacy.nps_survey")  # fmt: skip
    links = await _nps_mail_links(notify, account)
    assert (await notify.client.get(links[4])).status_code == 200
    listed = await _answers(notify, survey="nps", account_id=account)
    assert listed["total"] == 2
    by_channel = {a["channel"]: a for a in listed["answers"]}
    assert by_channel["in_app"]["user_id"] == "u-inapp" and by_channel["in_app"]["score"] == 9
    assert by_channel["in_app"]["comment"] == "画面が見やすい"
    assert by_channel["email"]["user_id"] == "mailer" and by_channel["email"]["score"] == 4
    assert by_channel["email"]["template"] == "advocacy.nps_survey"
    for a in listed["answers"]:
        assert a["account_id"] == account and a["survey"] == "nps" and datetime.fromisoformat(a["answered_at"])


async def test_a_changed_email_answer_is_listed_once_with_the_latest_score(notify: Notify):
    account = str(uuid.uuid4())
    links = await _nps_mail_links(notify, account)
    await notify.client.get(links[10])  # a link scanner following every link ...
    await notify.client.get(links[2])  # ... then the person's own click
    listed = await _answers(notify, account_id=account)
    assert listed["total"] == 1 and [a["score"] for a in listed["answers"]] == [2]


async def test_the_survey_filter_keeps_other_surveys_out(notify: Notify):
    account = str(uuid.uuid4())
    await _answer_in_app(notify, account, "u-nps", {"survey": "nps", "score": 6}, "advocacy.nps_survey")
    await _answer_in_app(notify, account, "u-renew", {"survey": "renewal", "choice": "unlikely"},
                         "renewal.reminder_survey")  # fmt: skip
    assert [a["score"] for a in (await _answers(notify, survey="nps", account_id=account))["answers"]] == [6]
    renewal = await _answers(notify, survey="renewal", account_id=account)
    assert [(a["choice"], a["user_id"]) for a in renewal["answers"]] == [("unlikely", "u-renew")]
    assert (await _answers(notify, account_id=account))["total"] == 2


async def test_answers_are_newest_first_paged_with_a_total_and_cut_by_since_and_until(notify: Notify):
    account = str(uuid.uuid4())
    users = [f"u{i}" for i in range(4)]
    for score, user in enumerate(users):
        await _answer_in_app(notify, account, user, {"survey": "nps", "score": score}, "advocacy.nps_survey")
    # Spread the answers one day apart (u0 oldest): the shared simulated clock cannot be moved per test.
    base = datetime.fromisoformat("2026-03-01T12:00:00+00:00")
    async with notify.state.engine.begin() as conn:
        for i, user in enumerate(users):
            await conn.execute(
                text("UPDATE notify.inapp_messages SET answered_at = :at WHERE account_id = :a AND user_id = :u"),
                {"at": base + timedelta(days=i), "a": account, "u": user},
            )
    everything = await _answers(notify, survey="nps", account_id=account)
    assert [a["user_id"] for a in everything["answers"]] == ["u3", "u2", "u1", "u0"] and everything["total"] == 4
    page = await _answers(notify, survey="nps", account_id=account, limit="2", offset="1")
    assert [a["user_id"] for a in page["answers"]] == ["u2", "u1"] and page["total"] == 4
    window = await _answers(
        notify, account_id=account, since=(base + timedelta(days=1)).isoformat(),
        until=(base + timedelta(days=3)).isoformat(),
    )  # fmt: skip
    assert [a["user_id"] for a in window["answers"]] == ["u2", "u1"] and window["total"] == 2
    beyond = await _answers(notify, account_id=account, offset="10")
    assert beyond["answers"] == [] and beyond["total"] == 4


async def test_answers_need_the_api_token(notify: Notify):
    assert (await notify.client.get("/v1/answers")).status_code == 401
    wrong = await notify.client.get("/v1/answers", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_bad_query_parameters_are_refused_naming_the_field(notify: Notify):
    cases = {
        "survey": {"survey": "happiness"},
        "since": {"since": "last tuesday"},
        "until": {"since": "2026-02-01T00:00Z", "until": "2026-01-01T00:00Z"},
        "limit": {"limit": "0"},
        "offset": {"offset": "-1"},
    }
    for field, params in cases.items():
        response = await notify.client.get("/v1/answers", params=params, headers=BEARER)
        assert response.status_code == 422, field
        assert response.json()["detail"][0]["loc"] == ["query", field], (field, response.text)
    naive = await notify.client.get("/v1/answers", params={"until": "2026-01-01T00:00"}, headers=BEARER)
    [problem] = naive.json()["detail"]
    assert naive.status_code == 422 and problem["loc"] == ["query", "until"] and "give a time zone" in problem["msg"]
