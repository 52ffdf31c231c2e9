"""The MIME message for a delivery: Message-ID, RFC 8058 one-click unsubscribe, template name, HTML + text."""

from __future__ import annotations

import email.policy
import email.utils
import functools
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage


@dataclass(frozen=True)
class Outgoing:
    message_id: str
    mail_from: str
    to: str
    to_name: str | None
    subject: str
    html: str
    text: str
    unsubscribe_url: str | None
    sent_at: datetime
    delivery_id: str
    template: str | None = None  # X-Touchline-Template: tests and operators see which mail it is


def message_id_for(delivery_id: str, *, domain: str) -> str:
    """Fixed when the delivery is recorded, so a crash mid-send can be traced by it in MTA logs."""
    return f"<{delivery_id}@{domain}>"


class _RememberedHeaders(HeaderRegistry):
    """The standard header classes, each (name, value) parsed once: parsing is most of the cost of
    composing a mail (From, MIME-Version, the parts' Content-Type and encoding repeat in every mail,
    and setting a parameter re-parses its header). A parsed header is an immutable string, so
    the one parsed first serves every mail; tests/unit/notify/test_notify_mime_equal.py shows the
    mails are byte for byte those of the standard policy."""

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one registry for the process: never collected anyway)
    def __call__(self, name: str, value: str) -> BaseHeader:
        return super().__call__(name, value)  # type: ignore[no-any-return]


POLICY = email.policy.default.clone(header_factory=_RememberedHeaders())


def compose(mail: Outgoing, *, policy: email.policy.Policy[EmailMessage] = POLICY) -> EmailMessage:
    msg = EmailMessage(policy=policy)
    msg["Message-ID"] = mail.message_id
    msg["Date"] = email.utils.format_datetime(mail.sent_at)
    msg["From"] = mail.mail_from
    # A display name comes from the customer's product (identify traits): fold any line breaks
    # rather than fail, since a header may not contain one.
    name = " ".join((mail.to_name or "").split())
    msg["To"] = email.utils.formataddr((name, mail.to)) if name else mail.to
    msg["Subject"] = mail.subject
    msg["X-Touchline-Delivery"] = mail.delivery_id
    if mail.template:
        msg["X-Touchline-Template"] = mail.template
    if mail.unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg
