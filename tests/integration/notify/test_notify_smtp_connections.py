"""The SMTP mailer keeps connections open between mails, and never loses a mail to one the server
dropped meanwhile (a real aiosmtpd server)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest

from touchline.notify.adapters.smtp import SmtpMailer
from touchline.notify.ports import SendFailed
from touchline.shared.stack.layout import free_port
from touchline.shared.stack.smtp_sink import MailSink


def _mail(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "cs@t.test", f"r{i}@c.test", f"mail {i}"
    msg["Message-ID"] = f"<m{i}@t.test>"
    msg.set_content("hello")
    return msg


def _mailer(port: int, **kw: float) -> SmtpMailer:
    return SmtpMailer(host="127.0.0.1", port=port, starttls=False, tls=False, user="", password="", timeout=10, **kw)


async def test_mails_one_after_another_share_one_connection():
    with MailSink() as sink:
        mailer = _mailer(sink.port)
        for i in range(5):
            await mailer.send(_mail(i))
        await mailer.aclose()
    assert [m["Subject"] for m in sink.messages()] == [f"mail {i}" for i in range(5)]
    assert mailer.opened == 1


async def test_mails_sent_at_once_use_as_many_connections_as_run_together_and_reuse_them():
    with MailSink() as sink:
        mailer = _mailer(sink.port)
        await asyncio.gather(*(mailer.send(_mail(i)) for i in range(4)))
        await asyncio.gather(*(mailer.send(_mail(i)) for i in range(4, 8)))
        await mailer.aclose()
    assert len(sink.messages()) == 8
    assert mailer.opened == 4


async def test_a_connection_idle_too_long_is_replaced_not_reused():
    with MailSink() as sink:
        mailer = _mailer(sink.port, idle_seconds=0.0)
        for i in range(3):
            await mailer.send(_mail(i))
        await mailer.aclose()
    assert len(sink.messages()) == 3
    assert mailer.opened == 3


async def test_a_mail_after_the_server_restarted_goes_out_on_a_fresh_connection():
    port = free_port()
    mailer = _mailer(port)
    with MailSink(port=port) as first:
        await mailer.send(_mail(1))
    with MailSink(port=port) as second:  # the kept connection was to the server that stopped
        await mailer.send(_mail(2))
        await mailer.aclose()
    assert [m["Subject"] for m in first.messages()] == ["mail 1"]
    assert [m["Subject"] for m in second.messages()] == ["mail 2"]
    assert mailer.opened == 2


async def test_a_refused_mail_fails_with_its_code_and_the_next_one_still_goes_out():
    with MailSink() as sink:
        mailer = _mailer(sink.port)
        await mailer.send(_mail(1))
        sink.fail_with(550, "mailbox unavailable")
        with pytest.raises(SendFailed) as refused:
            await mailer.send(_mail(2))
        assert refused.value.code == 550
        sink.fail_with(None)
        await mailer.send(_mail(3))
        await mailer.aclose()
    assert [m["Subject"] for m in sink.messages()] == ["mail 1", "mail 3"]


async def test_no_server_fails_the_send_without_a_code():
    mailer = _mailer(free_port())
    with pytest.raises(SendFailed) as failed:
        await mailer.send(_mail(1))
    assert failed.value.code is None
