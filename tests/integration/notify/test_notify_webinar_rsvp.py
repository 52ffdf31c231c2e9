"""Webinar invitations on the real stack, as the customer lives them: the invitation touch publishes
(built by touch's own ``invitation``) -> mail in the SMTP sink -> the RSVP link -> a seat, until full."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from notify_harness import Notify, eventually

from touchline.shared import topics
from touchline.touch.domain.segments import Segment
from touchline.touch.domain.webinars import Webinar, invitation

BEARER = {"Authorization": "Bearer dev-api-token"}


def _rsvp_link(mail) -> str:
    body = mail.get_body(preferencelist=("html",)).get_content()
    found = re.findall(r'http://notify\.test(/t/r/[^"\s<]+)', body)
    assert len(found) == 1, body
    return found[0]


async def _invited(notify: Notify, webinar: Webinar, *, locale: str = "en") -> tuple[str, str, str]:
    """A new account with one admin contact, invited; (account, address, the mail's RSVP path)."""
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, admin=(address, locale))
    await notify.publish(topics.COMMANDS, invitation(webinar, account, at=datetime.now(UTC)))
    mails = await eventually(lambda: notify.mails_to(address), what=f"invitation to {address}")
    assert mails[0]["X-Touchline-Template"] == "webinar.invite"
    return account, address, _rsvp_link(mails[0])


def _webinar(capacity: int) -> Webinar:
    now = datetime.now(UTC)
    return Webinar(uuid.uuid4().hex, "Reporting deep dive", now + timedelta(days=7), capacity, Segment(), now)


async def test_an_invited_admin_follows_the_rsvp_link_and_holds_one_seat_however_often_they_click(notify: Notify):
    webinar = _webinar(capacity=15)
    account, address, path = await _invited(notify, webinar)
    first = await notify.client.get(path)
    assert first.status_code == 200 and "You are registered" in first.text and address in first.text
    again = await notify.client.get(path)
    assert again.status_code == 200 and "already saved" in again.text
    listed = (await notify.client.get(f"/v1/webinars/{webinar.id}/rsvps", headers=BEARER)).json()
    assert listed["count"] == 1
    assert [(r["email"], r["account_id"], r["user_id"]) for r in listed["rsvps"]] == [(address, account, "admin")]
    opened = await eventually(lambda: notify.outcomes_of(account, "email.opened"), what="the RSVP counts as an open")
    assert opened[0].machine is False


async def test_once_the_seats_are_taken_the_next_customer_sees_a_full_page_and_gets_no_seat(notify: Notify):
    webinar = _webinar(capacity=2)
    invited = [await _invited(notify, webinar, locale=locale) for locale in ("en", "en", "ja")]
    for _, _, path in invited[:2]:
        assert (await notify.client.get(path)).status_code == 200
    full = await notify.client.get(invited[2][2])
    assert full.status_code == 409 and "満席" in full.text
    listed = (await notify.client.get(f"/v1/webinars/{webinar.id}/rsvps", headers=BEARER)).json()
    assert sorted(r["email"] for r in listed["rsvps"]) == sorted(address for _, address, _ in invited[:2])
    # a seat holder clicking again is still registered, not turned away
    assert (await notify.client.get(invited[0][2])).status_code == 200


async def test_a_forged_rsvp_link_or_another_links_token_records_nothing(notify: Notify):
    webinar = _webinar(capacity=5)
    _, _, path = await _invited(notify, webinar)
    body, mac = path.removeprefix("/t/r/").split(".")
    assert (await notify.client.get(f"/t/r/{body}.{mac[:-3]}AAA")).status_code == 404
    assert (await notify.client.get(f"/t/a/{body}.{mac}")).status_code == 404
    listed = (await notify.client.get(f"/v1/webinars/{webinar.id}/rsvps", headers=BEARER)).json()
    assert listed["count"] == 0
    assert (await notify.client.get(f"/v1/webinars/{webinar.id}/rsvps")).status_code == 401


async def test_an_invitation_without_its_webinar_fails_naming_the_variable(notify: Notify):
    account = str(uuid.uuid4())
    await notify.directory(account, admin=(f"{account[:8]}@customer.test", "en"))
    command = invitation(_webinar(capacity=3), account, at=datetime.now(UTC)).model_copy(update={"variables": {}})
    await notify.publish(topics.COMMANDS, command)
    failed = await eventually(lambda: notify.outcomes_of(account, "email.failed"), what="email.failed")
    assert "variables.webinar.id" in failed[0].detail
