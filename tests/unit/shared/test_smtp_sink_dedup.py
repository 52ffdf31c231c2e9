"""The local SMTP sink deduplicates on Message-ID, like a receiving MTA, even across a restart."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from touchline.shared.stack.smtp_sink import MailSink


def _mail(message_id: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "touchline@vendor.test"
    message["To"] = "ana@customer.test"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content("hello")
    return message


def _stored(folder: Path) -> tuple[int, int]:
    """(index lines, .eml files) in the sink's folder."""
    return len((folder / "index.jsonl").read_text().splitlines()), len(list(folder.glob("*.eml")))


async def test_a_copy_with_a_known_message_id_is_accepted_but_stored_once(tmp_path: Path) -> None:
    with MailSink(tmp_path) as sink:
        await aiosmtplib.send(_mail("<a@touchline>", "first"), hostname=sink.host, port=sink.port)
        await aiosmtplib.send(_mail("<a@touchline>", "first, again"), hostname=sink.host, port=sink.port)
        await aiosmtplib.send(_mail("<b@touchline>", "second"), hostname=sink.host, port=sink.port)
        assert [m["Subject"] for m in sink.messages()] == ["first", "second"]
        assert sink.duplicates() == ["<a@touchline>"]
    assert _stored(tmp_path) == (2, 2)


async def test_a_restarted_sink_still_knows_what_it_stored(tmp_path: Path) -> None:
    with MailSink(tmp_path) as sink:
        await aiosmtplib.send(_mail("<a@touchline>", "first"), hostname=sink.host, port=sink.port)
    with MailSink(tmp_path) as restarted:
        await aiosmtplib.send(_mail("<a@touchline>", "first"), hostname=restarted.host, port=restarted.port)
        assert restarted.messages() == [] and restarted.duplicates() == ["<a@touchline>"]
