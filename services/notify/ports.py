"""What notify needs from the outside world, as protocols (fakes in unit tests, adapters in main)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from touchline.shared.messages import Command, Outcome

from .domain.email import Account, Contact
from .domain.milestones import Milestone

Row = Mapping[str, Any]


@dataclass(frozen=True)
class ParkedCommand:
    """An email command waiting for a recipient, until ``expires_at`` (service clock)."""

    command_id: str
    command: Command
    expires_at: datetime


class TaskRepository(Protocol):
    """What CSM tasks read and write (the consumer's task commands and the task API), inside the
    caller's transaction; never commits. Rows are the tables' columns by name."""

    async def get_account(self, account_id: str) -> Account | None: ...

    async def add_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Stage outcomes in the notify.outbox; the relay publishes them after commit."""
        ...

    async def insert_delivery(self, row: Mapping[str, Any]) -> bool:
        """False when this command (or dedup key) already reached this address."""
        ...

    async def open_task_for(self, *, account_id: str, type_: str, reason: str) -> Row | None:
        """The account's open or snoozed task of this type and reason, locked."""
        ...

    async def next_turn(self, pool: str) -> int:
        """The pool's next round-robin turn (0 the first time)."""
        ...

    async def insert_task(self, row: Mapping[str, Any]) -> Row: ...

    async def update_task(self, task_id: str, changes: Mapping[str, Any]) -> Row | None: ...

    async def bump(self, task_id: str, *, column: str, now: datetime, reopen: bool) -> Row:
        """Count a repeat (recurrences) or a held-back repeat (held_back); reopening ends the snooze."""
        ...

    async def get_task(self, task_id: str, *, lock: bool = False) -> Row | None: ...

    async def add_comment(self, *, task_id: str, author: str | None, body: str, now: datetime) -> None: ...

    async def live_endpoints(self, ids: Sequence[str]) -> list[Row]:
        """The webhook endpoints among ``ids`` that a 410 has not disabled."""
        ...

    async def insert_webhook(
        self, *, delivery_id: str, endpoint_id: str, event_type: str, payload: Any, now: datetime
    ) -> None: ...


class InboxRepository(Protocol):
    """What deciding a user's in-app messages reads and writes, in the caller's transaction."""

    async def users_messages(self, user_ids: Sequence[str], *, now: datetime, since: datetime) -> list[Row]:
        """The users' open, unexpired messages and those shown since ``since``; oldest first per user."""
        ...

    async def mark_shown(self, ids: Sequence[str], *, now: datetime) -> list[Row]:
        """Stamp first showings; the messages shown now for the first time."""
        ...

    async def add_outcomes(self, outcomes: Sequence[Outcome]) -> None: ...


class AnswerRepository(Protocol):
    """What recording a survey answer reads and writes, in the caller's transaction."""

    async def lock_delivery(self, delivery_id: str) -> Row | None:
        """The delivery, locked until the transaction ends (two clicks are answered one by one)."""
        ...

    async def log_email_answer(self, *, delivery_id: str, answer: Mapping[str, Any], now: datetime) -> None: ...

    async def store_answer(
        self, *, channel: str, source_id: str, answer: Mapping[str, Any], now: datetime
    ) -> int | None:
        """Make ``answer`` the message's or delivery's current one: its new answer number, or None
        when it is the current answer already."""
        ...

    async def add_outcomes(self, outcomes: Sequence[Outcome]) -> None: ...


class EngagementRepository(Protocol):
    """What recording opens, clicks, unsubscribes and in-app events writes, in the caller's transaction."""

    async def record_link_event(
        self,
        *,
        delivery_id: str,
        kind: str,
        now: datetime,
        machine: bool = False,
        index: int | None = None,
        url: str | None = None,
    ) -> bool:
        """Log an open or click and stamp the delivery; True when it is the first of its kind."""
        ...

    async def unsubscribe(self, *, email: str, account_id: str, via: str, now: datetime) -> bool:
        """True when this address was subscribed until now."""
        ...

    async def record_inapp_event(self, message_id: str, *, event: str, now: datetime) -> bool:
        """Stamp seen/clicked/dismissed; True the first time."""
        ...

    async def add_outcomes(self, outcomes: Sequence[Outcome]) -> None: ...


class NotifyRepository(TaskRepository, Protocol):
    """What the consumer's handlers read and write, inside the batch's transaction; never commits."""

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        """Mark consumed records as processed; those never seen before (the rest are duplicates)."""
        ...

    async def upsert_account(self, *, account_id: str, traits: Mapping[str, Any], now: datetime) -> None:
        """Merge the traits notify uses; a trait absent from ``traits`` keeps its known value."""
        ...

    async def upsert_contact(
        self, *, account_id: str, user_id: str, traits: Mapping[str, Any], now: datetime
    ) -> None: ...

    async def add_milestone(self, milestone: Milestone, *, now: datetime) -> None:
        """Record a release or training a product event reported (a repeat of one is ignored)."""
        ...

    async def list_contacts(self, account_id: str) -> list[Contact]: ...

    async def unsubscribed(self, emails: Iterable[str]) -> set[str]:
        """The (lower-cased) addresses among ``emails`` that unsubscribed."""
        ...

    async def park(self, cmd: Command, *, now: datetime, until: datetime) -> bool:
        """False when the command is parked already (a replayed batch keeps the first deadline)."""
        ...

    async def parked_for_account(self, account_id: str) -> list[ParkedCommand]:
        """The account's parked commands, locked (the expiry sweep skips them meanwhile)."""
        ...

    async def parked_due(self, *, now: datetime, limit: int) -> list[ParkedCommand]:
        """Parked commands whose wait is over, skipping those a consumer is releasing."""
        ...

    async def unpark(self, command_id: str) -> None: ...

    async def insert_inapp_message(self, row: Mapping[str, Any]) -> bool:
        """False when this message is stored already."""
        ...

    async def announce_inapp(self, user_ids: Sequence[str]) -> None:
        """Tell every notify process, once committed, that these users have a new message."""
        ...


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
