"""Email on the real stack: command -> mail in the SMTP sink -> tracked open/click/answer/unsubscribe."""

from __future__ import annotations

import re
import uuid

from notify_harness import Notify, email_command, eventually
from sqlalchemy import text

from touchline.shared import topics


def _links(mail, kind: str) -> list[str]:
    body = mail.get_body(preferencelist=("html",)).get_content()
    return re.findall(rf'http://notify\.test(/{kind}/[^"\s<]+)', body)


async def _mail_for(notify: Notify, *, locale: str = "en", template: str = "onboarding.welcome", **kw):
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, user1=(address, locale))
    command = email_command(account, template, **kw)
    await notify.publish(topics.COMMANDS, command)
    mails = await eventually(lambda: notify.mails_to(address), what=f"mail to {address}")
    return account, address, command, mails[0]


async def test_a_command_becomes_one_mail_with_message_id_and_one_click_unsubscribe_headers(notify: Notify):
    account, _, command, mail = await _mail_for(notify, locale="ja")
    assert re.fullmatch(r"<[0-9a-f-]{36}@touchline\.invalid>", mail["Message-ID"])
    assert re.fullmatch(r"<http://notify\.test/u/[^>]+>", mail["List-Unsubscribe"])
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["X-Touchline-Template"] == "onboarding.welcome"
    assert "ようこそ" in mail["Subject"]
    sent = await eventually(lambda: notify.outcomes_of(account, "email.sent"), what="email.sent outcome")
    assert sent[0].command_id == command.command_id and sent[0].playbook == "onboarding"


async def test_clicking_a_tracked_link_redirects_to_the_signed_url_and_publishes_clicked(notify: Notify):
    account, _, _, mail = await _mail_for(notify)
    path = _links(mail, "t/c")[0]
    response = await notify.client.get(path)
    assert response.status_code == 302
    assert response.headers["location"].startswith("https://help.example.com/")
    clicked = await eventually(lambda: notify.outcomes_of(account, "email.clicked"), what="clicked outcome")
    assert clicked[0].detail == response.headers["location"]


async def test_a_tampered_link_gets_404_and_records_nothing(notify: Notify):
    account, _, _, mail = await _mail_for(notify)
    path = _links(mail, "t/c")[0]
    body, mac = path.removeprefix("/t/c/").split(".")
    tampered = f"/t/c/{body[:-3]}AAA.{mac}"
    assert (await notify.client.get(tampered)).status_code == 404
    assert (await notify.client.get(f"/t/c/{body}.{mac[:-3]}AAA")).status_code == 404
    assert (
        await notify.client.get(_links(mail, "t/o")[0].replace("/t/o/", "/t/c/").removesuffix(".gif"))
    ).status_code == 404
    rows = await notify.sql(
        "SELECT count(*) AS n FROM notify.link_events e JOIN notify.deliveries d ON d.id = e.delivery_id WHERE d.account_id = :a",
        a=account,
    )
    assert rows[0]["n"] == 0
    # A later genuine event proves the outcome stream is flowing, and nothing came before it for this account.
    assert (await notify.client.get(_links(mail, "t/o")[0])).status_code == 200
    await eventually(lambda: notify.outcomes_of(account, "email.opened"), what="opened outcome")
    assert notify.outcomes_of(account, "email.clicked") == []


async def test_the_open_pixel_answers_a_gif_and_publishes_opened(notify: Notify):
    account, _, _, mail = await _mail_for(notify)
    response = await notify.client.get(_links(mail, "t/o")[0])
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    opened = await eventually(lambda: notify.outcomes_of(account, "email.opened"), what="opened outcome")
    assert len(opened) == 1


async def test_a_one_click_survey_answer_in_a_mail_publishes_email_answered(notify: Notify):
    account, _, _, mail = await _mail_for(
        notify, template="renewal.reminder_survey", variables={"renewal_date": "2027-04-01"}
    )
    answers = _links(mail, "t/a")
    assert len(answers) == 3
    response = await notify.client.get(answers[2])
    assert response.status_code == 200
    answered = await eventually(lambda: notify.outcomes_of(account, "email.answered"), what="answered outcome")
    assert answered[0].answer == {"survey": "renewal", "choice": "unlikely"}


async def test_one_click_unsubscribe_stops_later_mails(notify: Notify):
    account, address, _, mail = await _mail_for(notify)
    path = mail["List-Unsubscribe"].strip("<>").removeprefix("http://notify.test")
    page = await notify.client.get(path)
    assert page.status_code == 200 and "<form" in page.text
    response = await notify.client.post(path, content="List-Unsubscribe=One-Click",
                                        headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 200
    await eventually(lambda: notify.outcomes_of(account, "email.unsubscribed"), what="unsubscribed outcome")
    await notify.publish(topics.COMMANDS, email_command(account, "onboarding.tips"))
    failed = await eventually(lambda: notify.outcomes_of(account, "email.failed"), what="suppressed outcome")
    assert failed[0].detail == "suppressed: unsubscribed"
    assert len(notify.mails_to(address)) == 1


async def test_the_same_command_delivered_twice_sends_one_mail(notify: Notify):
    account, address, command, _ = await _mail_for(notify)
    await notify.publish(topics.COMMANDS, command)
    await notify.publish(topics.COMMANDS, email_command(account, "onboarding.tips"))  # a marker behind the copy
    await eventually(lambda: len(notify.mails_to(address)) == 2, what="marker mail")
    subjects = [m["Subject"] for m in notify.mails_to(address)]
    assert len([s for s in subjects if s.startswith("Welcome")]) == 1


async def test_a_mail_survives_the_smtp_server_being_down_and_is_delivered_once(notify: Notify):
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, user1=(address, "en"))
    notify.sink.stop()
    try:
        await notify.publish(topics.COMMANDS, email_command(account))

        async def retried() -> bool:
            rows = await notify.sql("SELECT attempts FROM notify.deliveries WHERE account_id = :a", a=account)
            return bool(rows) and rows[0]["attempts"] >= 2

        await eventually(retried, what="delivery retried while the server is down")
    finally:
        notify.sink.start()
    await eventually(lambda: notify.mails_to(address), what="mail after the server came back")
    await eventually(lambda: notify.outcomes_of(account, "email.sent"), what="sent outcome")
    assert len(notify.mails_to(address)) == 1
    assert notify.outcomes_of(account, "email.failed") == []


async def test_a_permanent_smtp_refusal_marks_the_mail_failed_without_retrying(notify: Notify):
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, user1=(address, "en"))
    notify.sink.fail_with(550, "No such user")
    try:
        await notify.publish(topics.COMMANDS, email_command(account))
        failed = await eventually(lambda: notify.outcomes_of(account, "email.failed"), what="failed outcome")
    finally:
        notify.sink.fail_with(None)
    assert "550" in failed[0].detail
    rows = await notify.sql("SELECT state, attempts FROM notify.deliveries WHERE account_id = :a", a=account)
    assert [(r["state"], r["attempts"]) for r in rows] == [("failed", 1)]


async def test_a_send_cut_off_by_a_crash_is_sent_again_with_its_message_id(notify: Notify):
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, user1=(address, "en"))
    notify.sink.fail_with(451, "Try later")
    try:
        await notify.publish(topics.COMMANDS, email_command(account))

        async def crashed_between_attempts() -> bool:
            """What a replica that crashed after claiming leaves behind: 'sending', claimed long
            ago. Only done while the row waits for its retry: a retry already claimed is in
            flight and could reach the sink once it accepts again."""
            async with notify.state.engine.begin() as conn:
                faked = await conn.execute(
                    text(
                        "UPDATE notify.deliveries SET state = 'sending', claimed_at = now() - interval '1 hour'"
                        " WHERE account_id = :a AND state = 'pending' AND attempts >= 1 RETURNING id"
                    ),
                    {"a": account},
                )
                return bool(faked.fetchall())

        await eventually(crashed_between_attempts, what="delivery attempted and waiting for its retry")
    finally:
        notify.sink.fail_with(None)
    sent = await eventually(lambda: notify.outcomes_of(account, "email.sent"), what="sent outcome")
    rows = await notify.sql("SELECT state, message_id FROM notify.deliveries WHERE account_id = :a", a=account)
    assert [r["state"] for r in rows] == ["sent"]
    assert [m["Message-ID"] for m in notify.mails_to(address)] == [rows[0]["message_id"]]
    assert notify.outcomes_of(account, "email.failed") == [] and len(sent) == 1


async def test_an_unknown_template_is_reported_as_failed(notify: Notify):
    account = str(uuid.uuid4())
    await notify.publish(topics.COMMANDS, email_command(account, "no.such_template"))
    failed = await eventually(lambda: notify.outcomes_of(account, "email.failed"), what="template outcome")
    assert "no email template" in failed[0].detail


async def test_line_breaks_in_a_contact_fail_only_that_mail_and_never_inject_headers(notify: Notify):
    """Names and addresses come from the customer's product: a line break must not become a header
    nor stop the other recipients of the same command."""
    from datetime import UTC, datetime

    from touchline.shared.messages import ProductEvent

    account = str(uuid.uuid4())
    good, bad = f"{account[:8]}@customer.test", f"{account[:8]}-2@customer.test\nBcc: spy@evil.test"
    await notify.directory(account, user1=(good, "en"))
    now = datetime.now(UTC)
    await notify.publish(
        topics.EVENTS,
        ProductEvent(message_id=str(uuid.uuid4()), account_id=account, kind="identify", user_id="user2",
                     traits={"email": bad, "name": "Mallory", "locale": "en", "role": "admin"}, timestamp=now, received_at=now),
        ProductEvent(message_id=str(uuid.uuid4()), account_id=account, kind="identify", user_id="user1",
                     traits={"email": good, "name": "Aiko\nBcc: spy@evil.test", "locale": "en", "role": "admin"},
                     timestamp=now, received_at=now),
    )  # fmt: skip

    async def both_contacts_as_sent() -> bool:
        """The command travels on another topic than the identify events: wait until notify
        knows Mallory and Aiko's new name, or the command may see the directory before them."""
        rows = await notify.sql("SELECT user_id, name FROM notify.contacts WHERE account_id = :a", a=account)
        return {r["user_id"]: r["name"] for r in rows}.keys() == {"user1", "user2"} and any(
            "Aiko" in (r["name"] or "") for r in rows
        )

    await eventually(both_contacts_as_sent, what="both identify events applied")
    await notify.publish(topics.COMMANDS, email_command(account))
    [mail] = await eventually(lambda: notify.mails_to(good), what=f"mail to {good}")
    assert "\n" not in mail["To"] and mail["Bcc"] is None and "Aiko" in mail["To"]
    sent = await eventually(lambda: notify.outcomes_of(account, "email.sent"), what="email.sent outcome")
    assert len(sent) == 1
    from email.utils import getaddresses

    recipients = {a for m in notify.sink.messages() for _, a in getaddresses([str(m["To"] or ""), str(m["Bcc"] or "")])}
    assert "spy@evil.test" not in recipients
    failed = await eventually(lambda: notify.outcomes_of(account, "email.failed"), what="the bad address's failure")
    assert [f.detail.split(":")[0:2] for f in failed] == [["permanent", " unusable message"]]
