"""The notify repository on one connection: the ports the handlers, the inbox, the answers and
engagement use, over the table modules (postgres, pg_parked, pg_inapp, pg_tasks, pg_answers), whose
SQL it runs unchanged. Never commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.db import first_seen
from touchline.shared.messages import Command, Outcome

from ..domain.email import Account, Contact
from ..domain.milestones import Milestone
from ..ports import ParkedCommand, Row
from . import pg_answers, pg_inapp, pg_milestones, pg_parked, pg_tasks, pg_wake
from . import postgres as pg

SCHEMA = "notify"


def _parked(row: Row) -> ParkedCommand:
    return ParkedCommand(row["command_id"], pg_parked.command_of(row), row["expires_at"])


class PgRepository:
    """Implements NotifyRepository (and so TaskRepository), InboxRepository, AnswerRepository and
    EngagementRepository."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._woken: set[str] = set()
        # The directory read ahead for a batch (read_ahead): an account's entry is dropped when
        # this transaction writes it, so what is answered from here is what a query would answer.
        self._accounts: dict[str, Account | None] = {}
        self._contacts: dict[str, list[Contact]] = {}
        self._looked_up: set[str] = set()  # addresses whose unsubscribe is known (lower case)
        self._silenced: set[str] = set()

    async def read_ahead(self, account_ids: Iterable[str]) -> None:
        """Load these accounts, their contacts and whether those unsubscribed in three statements,
        instead of three per command of a batch."""
        ids = sorted(set(account_ids) - self._accounts.keys())
        if not ids:
            return
        accounts = await pg.accounts_of(self.conn, ids)
        contacts = await pg.contacts_of(self.conn, ids)
        addresses = {c.email.lower() for found in contacts.values() for c in found if c.email}
        self._silenced |= await pg.unsubscribed(self.conn, addresses)
        self._looked_up |= addresses
        for account_id in ids:
            self._accounts[account_id] = accounts.get(account_id)
            self._contacts[account_id] = contacts.get(account_id, [])

    async def _wake(self, loop: str) -> None:
        # Once per loop and transaction: the loops learn of the work when it commits (pg_wake).
        if loop not in self._woken:
            self._woken.add(loop)
            await pg_wake.wake(self.conn, loop)

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        return await first_seen(self.conn, SCHEMA, ids, now=now)

    # --- the directory, preferences, deliveries and the outbox ----------------------------------

    async def upsert_account(self, *, account_id: str, traits: Mapping[str, Any], now: datetime) -> None:
        self._accounts.pop(account_id, None)
        await pg.upsert_account(self.conn, account_id=account_id, traits=traits, now=now)

    async def upsert_contact(self, *, account_id: str, user_id: str, traits: Mapping[str, Any], now: datetime) -> None:
        self._contacts.pop(account_id, None)
        self._looked_up.clear()  # the contact's address may be new
        await pg.upsert_contact(self.conn, account_id=account_id, user_id=user_id, traits=traits, now=now)

    async def add_milestone(self, milestone: Milestone, *, now: datetime) -> None:
        await pg_milestones.insert_milestone(self.conn, milestone, now=now)

    async def get_account(self, account_id: str) -> Account | None:
        if account_id in self._accounts:
            return self._accounts[account_id]
        return await pg.get_account(self.conn, account_id)

    async def list_contacts(self, account_id: str) -> list[Contact]:
        if account_id in self._contacts:
            return list(self._contacts[account_id])
        return await pg.list_contacts(self.conn, account_id)

    async def unsubscribed(self, emails: Iterable[str]) -> set[str]:
        wanted = {e.lower() for e in emails}
        if wanted <= self._looked_up:
            return wanted & self._silenced
        return await pg.unsubscribed(self.conn, wanted)

    async def insert_delivery(self, row: Mapping[str, Any]) -> bool:
        inserted = await pg.insert_delivery(self.conn, row)
        if inserted and row.get("state", "pending") == "pending":
            await self._wake("mail")
        return inserted

    async def add_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        await pg.add_outcomes(self.conn, outcomes)
        if outcomes:
            await self._wake("outcomes")

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
        return await pg.record_link_event(
            self.conn, delivery_id=delivery_id, kind=kind, now=now, machine=machine, index=index, url=url
        )

    async def unsubscribe(self, *, email: str, account_id: str, via: str, now: datetime) -> bool:
        self._looked_up.discard(email.lower())
        return await pg.unsubscribe(self.conn, email=email, account_id=account_id, via=via, now=now)

    # --- parked email commands ------------------------------------------------------------------

    async def park(self, cmd: Command, *, now: datetime, until: datetime) -> bool:
        return await pg_parked.park(self.conn, cmd, now=now, until=until)

    async def parked_for_account(self, account_id: str) -> list[ParkedCommand]:
        return [_parked(r) for r in await pg_parked.for_account(self.conn, account_id)]

    async def parked_due(self, *, now: datetime, limit: int) -> list[ParkedCommand]:
        return [_parked(r) for r in await pg_parked.due(self.conn, now=now, limit=limit)]

    async def unpark(self, command_id: str) -> None:
        await pg_parked.unpark(self.conn, command_id)

    # --- the in-app inbox -----------------------------------------------------------------------

    async def insert_inapp_message(self, row: Mapping[str, Any]) -> bool:
        return await pg_inapp.insert_message(self.conn, row)

    async def announce_inapp(self, user_ids: Sequence[str]) -> None:
        await pg_inapp.announce(self.conn, user_ids)

    async def users_messages(self, user_ids: Sequence[str], *, now: datetime, since: datetime) -> list[Row]:
        return await pg_inapp.users_messages(self.conn, user_ids, now=now, since=since)

    async def mark_shown(self, ids: Sequence[str], *, now: datetime) -> list[Row]:
        return await pg_inapp.mark_shown(self.conn, ids, now=now)

    async def record_inapp_event(self, message_id: str, *, event: str, now: datetime) -> bool:
        return await pg_inapp.record_event(self.conn, message_id, event=event, now=now)

    # --- survey answers -------------------------------------------------------------------------

    async def lock_delivery(self, delivery_id: str) -> Row | None:
        return await pg_answers.lock_delivery(self.conn, delivery_id)

    async def log_email_answer(self, *, delivery_id: str, answer: Mapping[str, Any], now: datetime) -> None:
        await pg_answers.log_email_answer(self.conn, delivery_id=delivery_id, answer=answer, now=now)

    async def store_answer(
        self, *, channel: str, source_id: str, answer: Mapping[str, Any], now: datetime
    ) -> int | None:
        return await pg_answers.store_answer(self.conn, channel=channel, source_id=source_id, answer=answer, now=now)

    # --- CSM tasks and their webhooks -----------------------------------------------------------

    async def open_task_for(self, *, account_id: str, type_: str, reason: str) -> Row | None:
        return await pg_tasks.open_task_for(self.conn, account_id=account_id, type_=type_, reason=reason)

    async def next_turn(self, pool: str) -> int:
        return await pg_tasks.next_turn(self.conn, pool)

    async def insert_task(self, row: Mapping[str, Any]) -> Row:
        return await pg_tasks.insert_task(self.conn, row)

    async def update_task(self, task_id: str, changes: Mapping[str, Any]) -> Row | None:
        return await pg_tasks.update_task(self.conn, task_id, changes)

    async def bump(self, task_id: str, *, column: str, now: datetime, reopen: bool) -> Row:
        return await pg_tasks.bump(self.conn, task_id, column=column, now=now, reopen=reopen)

    async def get_task(self, task_id: str, *, lock: bool = False) -> Row | None:
        return await pg_tasks.get_task(self.conn, task_id, lock=lock)

    async def add_comment(self, *, task_id: str, author: str | None, body: str, now: datetime) -> None:
        await pg_tasks.add_comment(self.conn, task_id=task_id, author=author, body=body, now=now)

    async def live_endpoints(self, ids: Sequence[str]) -> list[Row]:
        return await pg_tasks.live_endpoints(self.conn, ids)

    async def insert_webhook(
        self, *, delivery_id: str, endpoint_id: str, event_type: str, payload: Any, now: datetime
    ) -> None:
        await pg_tasks.insert_webhook(
            self.conn, delivery_id=delivery_id, endpoint_id=endpoint_id, event_type=event_type, payload=payload, now=now
        )
        await self._wake("webhooks")
