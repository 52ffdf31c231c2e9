"""What notify needs from the outside world, as protocols (fakes in unit tests, adapters in main)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from typing import Any, Protocol


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


class InboxSource(Protocol):
    async def eligible(self, user_ids: Sequence[str]) -> Mapping[str, Sequence[dict[str, Any]]]:
        """Each user's eligible in-app messages (oldest first; users with none may be left out)."""
        ...


class ListenSession(Protocol):
    """One open LISTEN connection; ``lost`` is set when the connection dies."""

    lost: asyncio.Event

    async def ping(self) -> None:
        """Round-trip to the server (a half-open connection never says it is lost)."""
        ...

    async def close(self) -> None: ...


class Listener(Protocol):
    async def open(self, on_payload: Callable[[str], None]) -> ListenSession:
        """Connect and LISTEN; ``on_payload`` is called with each notification's payload."""
        ...
