"""The dev inbox: mails the SMTP sink stored (``<dir>/*.eml`` + ``<dir>/index.jsonl``).

The simulator reads mails the way a person would: who it is for, its subject, its links.
Tracking links carry a signed token ``<base64url json>.<mac>``; the json half is readable
(it is in the URL in clear) and says what the link does: ``k`` o(pen) / c(lick) / a(nswer) /
u(nsubscribe), and for an answer link the answer it records. Reading it is how a simulated
reader knows which answer each one-click link records without parsing the layout (what it
then offers and which one a customer picks: :mod:`touchline.sim.offers`, :mod:`touchline.sim.reactions`).
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

URL = re.compile(r"""https?://[^\s"'<>)]+""")
TOKEN = re.compile(r"([A-Za-z0-9_-]{8,})\.([A-Za-z0-9_-]{20,})")
TEMPLATE_HEADERS = ("X-Touchline-Template", "X-Template")
ACCOUNT_HEADERS = ("X-Touchline-Account",)
DELIVERY_HEADERS = ("X-Touchline-Delivery",)


@dataclass(frozen=True)
class Link:
    url: str
    kind: str | None  # open, click, answer, unsubscribe; None = not a tracking link
    answer: dict[str, Any] | None = None
    delivery_id: str | None = None


@dataclass(frozen=True)
class Mail:
    file: str
    to: tuple[str, ...]
    subject: str
    message_id: str
    template: str | None
    account_id: str | None
    delivery_id: str | None
    headers: dict[str, str]
    links: tuple[Link, ...] = field(default_factory=tuple)

    def of_kind(self, kind: str) -> list[Link]:
        return [link for link in self.links if link.kind == kind]


_KINDS = {"o": "open", "c": "click", "a": "answer", "u": "unsubscribe"}


def read_token(url: str) -> tuple[str | None, dict[str, Any] | None, str | None]:
    """(kind, answer, delivery id) from a tracking URL's token; (None, None, None) if it has none."""
    for match in TOKEN.finditer(url):
        try:
            raw = match.group(1)
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(payload, dict) and payload.get("k") in _KINDS:
            answer = payload.get("a") if isinstance(payload.get("a"), dict) else None
            return _KINDS[payload["k"]], answer, str(payload.get("d")) if payload.get("d") else None
    return None, None, None


def parse_mail(raw: bytes, *, file: str = "") -> Mail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    headers = {k: str(v) for k, v in message.items()}
    urls: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        content = part.get_content() if isinstance(part, EmailMessage) else ""
        for url in URL.findall(str(content)):
            cleaned = url.replace("&amp;", "&").rstrip(".,;")
            if cleaned not in urls:
                urls.append(cleaned)
    for url in URL.findall(headers.get("List-Unsubscribe", "")):
        if url not in urls:
            urls.append(url)
    links = tuple(_link(url) for url in urls)
    return Mail(
        file=file,
        to=tuple(a.strip().lower() for a in headers.get("To", "").split(",") if a.strip()),
        subject=headers.get("Subject", ""),
        message_id=headers.get("Message-ID", file),
        template=_first(headers, TEMPLATE_HEADERS),
        account_id=_first(headers, ACCOUNT_HEADERS),
        delivery_id=_first(headers, DELIVERY_HEADERS) or next((k.delivery_id for k in links if k.delivery_id), None),
        headers=headers,
        links=links,
    )


def _link(url: str) -> Link:
    kind, answer, delivery = read_token(url)
    return Link(url=url, kind=kind, answer=answer, delivery_id=delivery)


def _first(headers: dict[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()].strip()
    return None


def address_of(recipient: str) -> str:
    """'Name <a@b>' -> 'a@b'."""
    match = re.search(r"<([^>]+)>", recipient)
    return (match.group(1) if match else recipient).strip().lower()


class Mailbox:
    """Reads new mails from the sink folder incrementally (the index is append-only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offset = 0
        self._pending = b""

    def skip_existing(self) -> None:
        """Start after what is already there (a dev inbox keeps earlier runs' mail)."""
        index = self.directory / "index.jsonl"
        self._offset = index.stat().st_size if index.exists() else 0

    def new_mails(self) -> Iterator[Mail]:
        index = self.directory / "index.jsonl"
        if not index.exists():
            return
        with open(index, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        # A line without its newline is still being written: keep it for the next read.
        self._pending = lines.pop()
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            path = self.directory / entry["file"]
            yield parse_mail(path.read_bytes(), file=entry["file"])
