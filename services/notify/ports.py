"""What notify needs from the outside world, as protocols (fakes in unit tests, adapters in main)."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Protocol


class SendFailed(Exception):
    """The SMTP server refused or could not be reached; ``code`` is its reply code when it answered."""

    def __init__(self, message: str, *, code: int | None) -> None:
        super().__init__(message)
        self.code = code


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the SMTP server; raise SendFailed when it is not accepted."""
        ...


class WebhookPoster(Protocol):
    async def post(self, url: str, *, body: bytes, headers: Mapping[str, str]) -> int:
        """POST and return the HTTP status; raise OSError-like errors when unreachable."""
        ...
