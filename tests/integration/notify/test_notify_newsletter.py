"""Newsletters on the real stack, as the customer lives them: the command touch publishes (built by
touch's own ``newsletter_command``) -> mail with tracked items -> click; an unsubscribed reader gets
the next issue no more."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from notify_harness import Notify, eventually

from touchline.shared import topics
from touchline.touch.domain.newsletters import Item, Newsletter, newsletter_command
from touchline.touch.domain.segments import Segment


def _issue(title: str) -> Newsletter:
    return Newsletter(
        uuid.uuid4().hex, title, "What is new", (Item("Reports", "https://help.test/reports"),), Segment()
    )


async def test_a_reader_clicks_an_item_unsubscribes_and_gets_no_further_issue(notify: Notify):
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, reader=(address, "en"))
    first = newsletter_command(_issue("March news"), account, at=datetime.now(UTC))
    await notify.publish(topics.COMMANDS, first)
    [mail] = await eventually(lambda: notify.mails_to(address), what="the newsletter")
    assert mail["Subject"] == "March news" and mail["X-Touchline-Template"] == "newsletter.issue"
    body = mail.get_body(preferencelist=("html",)).get_content()
    [item] = re.findall(r'http://notify\.test(/t/c/[^"\s<]+)', body)
    clicked = await notify.client.get(item)
    assert clicked.status_code == 302 and clicked.headers["location"] == "https://help.test/reports"
    await eventually(lambda: notify.outcomes_of(account, "email.clicked"), what="clicked outcome")

    unsubscribe = re.fullmatch(r"<http://notify\.test(/u/[^>]+)>", mail["List-Unsubscribe"])
    assert unsubscribe is not None
    posted = await notify.client.post(unsubscribe.group(1), content=b"List-Unsubscribe=One-Click")
    assert posted.status_code == 200
    await eventually(lambda: notify.outcomes_of(account, "email.unsubscribed"), what="unsubscribed outcome")

    second = newsletter_command(_issue("April news"), account, at=datetime.now(UTC))
    await notify.publish(topics.COMMANDS, second)
    failed = await eventually(
        lambda: [o for o in notify.outcomes_of(account, "email.failed") if o.command_id == second.command_id],
        what="the second issue suppressed",
    )
    assert failed[0].detail == "suppressed: unsubscribed"
    assert len(notify.mails_to(address)) == 1
