"""Surveys through the customer's path: the mail in the sink (its one-click links parsed and followed)
and the in-app API with a signed user token, answering only among the choices actually offered."""

from __future__ import annotations

import html
import re
import uuid

from notify_harness import Notify, email_command, eventually, inapp_command
from test_notify_inapp_api import _messages, auth
from test_notify_refusals import _dead_lettered

from touchline.shared import topics
from touchline.shared.messages import Outcome

FEATURES = ["exports", "alerts", "reports"]


def answer_links(mail) -> list[tuple[str, str]]:
    """(path, link text) of every one-click answer link in the mail's HTML part."""
    body = mail.get_body(preferencelist=("html",)).get_content()
    return [
        (path, html.unescape(label))
        for path, label in re.findall(r'href="http://notify\.test(/t/a/[^"]+)">([^<]*)</a>', body)
    ]


async def mail_of(notify: Notify, template: str, **variables) -> tuple[str, object]:
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, user1=(address, "en"))
    await notify.publish(topics.COMMANDS, email_command(account, template, variables=variables))
    mails = await eventually(lambda: notify.mails_to(address), what=f"{template} mail")
    assert mails[0]["X-Touchline-Template"] == template  # tests and operators need not look it up
    return account, mails[0]


async def survey_of(notify: Notify, template: str, **variables) -> tuple[str, str, dict]:
    account, user = str(uuid.uuid4()), f"user-{uuid.uuid4().hex[:8]}"
    await notify.publish(topics.COMMANDS, inapp_command(account, [user], template, **variables))
    messages = await eventually(lambda: _messages(notify, user), what=f"{template} listed")
    return account, user, messages[0]


async def answer_in_app(notify: Notify, user: str, message: dict, answer: dict):
    return await notify.client.post(
        f"/v1/inapp/messages/{message['id']}/events", json={"type": "answered", "answer": answer}, headers=auth(user)
    )


def answered(notify: Notify, account: str, kind: str, n: int):
    async def enough() -> list[Outcome]:
        found = notify.outcomes_of(account, kind)
        return found if len(found) >= n else []

    return eventually(enough, what=f"{n} × {kind}")


# --- 2. the feature-usefulness survey offers exactly the command's features -------------------------------


async def test_the_feature_survey_mail_offers_the_commands_features_as_one_click_answers(notify: Notify):
    account, mail = await mail_of(notify, "risk.feature_survey", features=FEATURES)
    links = answer_links(mail)
    assert [label for _, label in links] == FEATURES
    response = await notify.client.get(links[1][0])
    assert response.status_code == 200
    got = await answered(notify, account, "email.answered", 1)
    assert got[0].answer == {"survey": "feature_usefulness", "features": ["alerts"]}


async def test_the_in_app_feature_survey_offers_the_features_and_refuses_one_not_offered(notify: Notify):
    account, user, message = await survey_of(notify, "risk.feature_survey", features=FEATURES)
    offered = [c["value"] for c in message["choices"]]
    assert offered == FEATURES
    refused = await answer_in_app(notify, user, message, {"survey": "feature_usefulness", "features": ["billing"]})
    assert refused.status_code == 400 and "answer.features" in refused.text and "billing" in refused.text
    ok = await answer_in_app(notify, user, message, {"survey": "feature_usefulness", "features": [offered[0]]})
    assert ok.status_code == 200 and ok.json()["recorded"] is True
    got = await answered(notify, account, "inapp.answered", 1)
    assert got[0].answer == {"survey": "feature_usefulness", "features": ["exports"]}
    rows = await notify.sql("SELECT answer FROM notify.inapp_messages WHERE id = :id", id=message["id"])
    assert rows[0]["answer"]["features"] == ["exports"]  # the refused answer recorded nothing


async def test_a_feature_survey_without_features_is_refused_not_rendered_empty(notify: Notify):
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, user1=(address, "en"))
    mail_command = email_command(account, "risk.feature_survey", variables={"features": []})
    popup = inapp_command(account, ["user1"], "risk.feature_survey")
    await notify.publish(topics.COMMANDS, mail_command, popup)
    failed = await eventually(lambda: notify.outcomes_of(account, "email.failed"), what="email.failed")
    assert failed[0].detail.startswith("refused: variables.features")
    assert notify.mails_to(address) == []

    async def dead() -> bool:
        return await _dead_lettered(notify, {popup.command_id}) == {popup.command_id}

    await eventually(dead, what="the in-app command dead-lettered", seconds=60)
    assert await notify.sql("SELECT id FROM notify.inapp_messages WHERE account_id = :a", a=account) == []


# --- 3. the NPS reminder is answerable where the survey was ------------------------------------------------


async def test_the_nps_reminder_mail_can_be_answered_with_one_click(notify: Notify):
    account, mail = await mail_of(notify, "advocacy.reminder")
    links = answer_links(mail)
    assert [label for _, label in links] == [str(n) for n in range(11)]
    assert (await notify.client.get(links[7][0])).status_code == 200
    got = await answered(notify, account, "email.answered", 1)
    assert got[0].answer is not None and got[0].answer["survey"] == "nps" and got[0].answer["score"] == 7


async def test_the_in_app_nps_reminder_shows_the_survey_again_until_answered(notify: Notify):
    account, user, message = await survey_of(notify, "advocacy.reminder")
    assert message["kind"] == "survey" and message["survey"] == "nps"
    assert [c["value"] for c in message["choices"]] == list(range(11))
    assert [m["id"] for m in await _messages(notify, user)] == [message["id"]]  # shown again on the next page
    response = await answer_in_app(notify, user, message, {"survey": "nps", "score": message["choices"][10]["value"]})
    assert response.status_code == 200
    await answered(notify, account, "inapp.answered", 1)
    assert await _messages(notify, user) == []


# --- 4. partial answers --------------------------------------------------------------------------------------


async def test_an_in_app_nps_comment_without_a_score_is_published_partial_and_a_score_completes_it(notify: Notify):
    account, user, message = await survey_of(notify, "advocacy.nps_survey")
    first = await answer_in_app(notify, user, message, {"survey": "nps", "comment": "setup was confusing"})
    assert first.status_code == 200 and first.json()["recorded"] is True
    partial = (await answered(notify, account, "inapp.answered", 1))[0]
    assert partial.answer == {"survey": "nps", "comment": "setup was confusing", "partial": True}
    listed = await _messages(notify, user)
    assert [m["id"] for m in listed] == [message["id"]]  # still asks for the score
    score = listed[0]["choices"][6]["value"]
    await answer_in_app(notify, user, listed[0], {"survey": "nps", "score": score})
    complete = (await answered(notify, account, "inapp.answered", 2))[1]
    assert complete.answer == {"survey": "nps", "score": 6, "comment": "setup was confusing"}
    assert complete.outcome_id != partial.outcome_id
    assert await _messages(notify, user) == []


async def test_a_one_click_nps_score_is_partial_until_the_thank_you_pages_why_is_answered(notify: Notify):
    account, mail = await mail_of(notify, "advocacy.nps_survey")
    path = answer_links(mail)[9][0]
    page = await notify.client.get(path)
    assert page.status_code == 200 and '<form method="post">' in page.text and 'name="comment"' in page.text
    partial = (await answered(notify, account, "email.answered", 1))[0]
    assert partial.answer == {"survey": "nps", "score": 9, "partial": True}
    done = await notify.client.post(path, data={"comment": "great support"})
    assert done.status_code == 200 and "<form" not in done.text
    complete = (await answered(notify, account, "email.answered", 2))[1]
    assert complete.answer == {"survey": "nps", "score": 9, "comment": "great support"}
    rows = await notify.sql("SELECT answer FROM notify.deliveries WHERE account_id = :a", a=account)
    assert rows[0]["answer"] == complete.answer


async def test_a_follow_up_too_long_is_refused_naming_the_field(notify: Notify):
    _, mail = await mail_of(notify, "advocacy.nps_survey")
    response = await notify.client.post(answer_links(mail)[3][0], data={"comment": "x" * 5001})
    assert response.status_code == 400 and "answer.comment" in response.text


# --- issue 13 defect 3: an answer changed back is not lost ---------------------------------------------------


async def test_an_in_app_answer_changed_back_is_published_each_time_and_the_latest_wins(notify: Notify):
    account, user, message = await survey_of(notify, "advocacy.nps_survey")
    scores = {c["value"] for c in message["choices"]}
    for score in (9, 2, 9):
        assert score in scores
        response = await answer_in_app(notify, user, message, {"survey": "nps", "score": score, "comment": "c"})
        assert response.json()["recorded"] is True
    again = await answer_in_app(notify, user, message, {"survey": "nps", "score": 9, "comment": "c"})
    assert again.json()["recorded"] is False  # the same answer again is no new answer
    got = await answered(notify, account, "inapp.answered", 3)
    assert [o.answer["score"] for o in got if o.answer] == [9, 2, 9]
    assert len({o.outcome_id for o in got}) == 3
    assert max(got, key=lambda o: (o.occurred_at, o.outcome_id)).answer == {"survey": "nps", "score": 9, "comment": "c"}


async def test_an_email_answer_changed_back_is_published_each_time(notify: Notify):
    account, mail = await mail_of(notify, "renewal.reminder_survey", renewal_date="2027-04-01")
    links = {label: path for path, label in answer_links(mail)}
    assert list(links) == ["Likely to renew", "Undecided", "Unlikely"]
    likely, unlikely = links["Likely to renew"], links["Unlikely"]
    for path in (likely, unlikely, likely):
        assert (await notify.client.get(path)).status_code == 200
    got = await answered(notify, account, "email.answered", 3)
    assert [o.answer["choice"] for o in got if o.answer] == ["likely", "unlikely", "likely"]
    assert len({o.outcome_id for o in got}) == 3
    assert (await notify.client.get(likely)).status_code == 200  # a repeated click is no new answer
    rows = await notify.sql("SELECT answer, answer_seq FROM notify.deliveries WHERE account_id = :a", a=account)
    assert rows[0]["answer_seq"] == 3 and rows[0]["answer"] == {"survey": "renewal", "choice": "likely"}


async def test_a_follow_up_form_that_is_not_utf8_or_too_large_or_forged_is_refused(notify: Notify):
    account, mail = await mail_of(notify, "advocacy.nps_survey")
    path = answer_links(mail)[5][0]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    not_utf8 = await notify.client.post(path, content=b"comment=\xff\xfe", headers=headers)
    assert not_utf8.status_code == 400 and "comment" in not_utf8.text
    too_large = await notify.client.post(path, content=b"comment=" + b"x" * 70_000, headers=headers)
    assert too_large.status_code == 413 and "comment" in too_large.text
    body, mac = path.removeprefix("/t/a/").split(".")
    forged = await notify.client.post(f"/t/a/{body}.{mac[:-3]}AAA", data={"comment": "x"})
    assert forged.status_code == 404
    rows = await notify.sql("SELECT answer FROM notify.deliveries WHERE account_id = :a", a=account)
    assert rows[0]["answer"] is None  # nothing refused was recorded
