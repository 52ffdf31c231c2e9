"""An in-memory fake of notify's repository ports (NotifyRepository, TaskRepository,
InboxRepository, AnswerRepository, EngagementRepository), for unit tests of the handlers, the inbox,
the answers and engagement. It
keeps the tables' rules they rely on: ON CONFLICT DO NOTHING by the same keys, traits merged
without losing known values, one open task per account + type + reason, an answer stored only when
it differs from the current one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from touchline.notify.domain.email import Account, Contact
from touchline.notify.domain.milestones import Milestone
from touchline.notify.ports import ParkedCommand
from touchline.shared.messages import Command, Outcome

_ANSWER_DEFAULTS = {"answer": None, "answered_at": None, "answer_seq": 0}
_DELIVERY_DEFAULTS = {
    **_ANSWER_DEFAULTS,
    "state": "pending",
    "sent_at": None,
    "opened_at": None,
    "machine_opened_at": None,
    "clicked_at": None,
}
_INAPP_DEFAULTS = {
    **_ANSWER_DEFAULTS,
    "shown_at": None,
    "seen_at": None,
    "clicked_at": None,
    "dismissed_at": None,
    "expires_at": None,
}
_TASK_DEFAULTS = {
    "snoozed_until": None,
    "recurrences": 0,
    "held_back": 0,
    "last_recurred_at": None,
    "closed_at": None,
    "close_reason": None,
}


def _merged(old: Any, new: Any) -> Any:
    given = None if new is None or new == "" else str(new)
    return old if given is None else given


class FakeNotifyRepo:
    def __init__(self) -> None:
        self.processed: set[str] = set()
        self.milestones: dict[str, Milestone] = {}
        self.accounts: dict[str, Account] = {}
        self.contacts: dict[tuple[str, str], Contact] = {}
        self.unsubscribes: set[str] = set()
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.outbox: dict[str, Outcome] = {}
        self.parked: dict[str, tuple[Command, datetime, datetime]] = {}  # id -> (command, parked_at, expires_at)
        self.inapp: dict[str, dict[str, Any]] = {}
        self.announced: list[list[str]] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.turns: dict[str, int] = {}
        self.comments: list[dict[str, Any]] = []
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.answer_log: list[dict[str, Any]] = []
        self.link_events: list[dict[str, Any]] = []
        self.preferences: dict[str, dict[str, Any]] = {}

    # --- helpers for tests ----------------------------------------------------------------------

    def outcomes(self, kind: str | None = None) -> list[Outcome]:
        return [o for o in self.outbox.values() if kind is None or o.kind == kind]

    # --- NotifyRepository -----------------------------------------------------------------------

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        fresh = {i for i in ids if i not in self.processed}
        self.processed |= fresh
        return fresh

    async def upsert_account(self, *, account_id: str, traits: Mapping[str, Any], now: datetime) -> None:
        old = self.accounts.get(account_id) or Account(account_id)
        self.accounts[account_id] = Account(
            account_id,
            _merged(old.name, traits.get("name")),
            _merged(old.csm_owner, traits.get("csm_owner")),
            _merged(old.locale, traits.get("locale")),
            _merged(old.tier, traits.get("tier")),
        )

    async def add_milestone(self, milestone: Milestone, *, now: datetime) -> None:
        self.milestones.setdefault(milestone.id, milestone)

    async def upsert_contact(self, *, account_id: str, user_id: str, traits: Mapping[str, Any], now: datetime) -> None:
        old = self.contacts.get((account_id, user_id)) or Contact(user_id)
        self.contacts[(account_id, user_id)] = Contact(
            user_id,
            _merged(old.email, traits.get("email")),
            _merged(old.name, traits.get("name")),
            _merged(old.locale, traits.get("locale")),
            _merged(old.role, traits.get("role")),
        )

    async def get_account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    async def list_contacts(self, account_id: str) -> list[Contact]:
        return [c for (a, _), c in self.contacts.items() if a == account_id]

    async def unsubscribed(self, emails: Iterable[str]) -> set[str]:
        return {e.lower() for e in emails} & self.unsubscribes

    async def insert_delivery(self, row: Mapping[str, Any]) -> bool:
        for d in self.deliveries.values():
            if d["email"] == row["email"] and (
                d["command_id"] == row["command_id"] or d["dedup_key"] == row["dedup_key"]
            ):
                return False
        if row["id"] in self.deliveries:
            return False
        self.deliveries[row["id"]] = {**_DELIVERY_DEFAULTS, **row}
        return True

    async def add_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        for o in outcomes:
            self.outbox.setdefault(o.outcome_id, o)

    async def park(self, cmd: Command, *, now: datetime, until: datetime) -> bool:
        if cmd.command_id in self.parked:
            return False
        self.parked[cmd.command_id] = (cmd, now, until)
        return True

    async def parked_for_account(self, account_id: str) -> list[ParkedCommand]:
        rows = sorted((p, i) for i, (c, p, _) in self.parked.items() if c.account_id == account_id)
        return [ParkedCommand(i, self.parked[i][0], self.parked[i][2]) for _, i in rows]

    async def parked_due(self, *, now: datetime, limit: int) -> list[ParkedCommand]:
        due = sorted((e, i) for i, (_, _, e) in self.parked.items() if e <= now)[:limit]
        return [ParkedCommand(i, self.parked[i][0], e) for e, i in due]

    async def unpark(self, command_id: str) -> None:
        self.parked.pop(command_id, None)

    async def insert_inapp_message(self, row: Mapping[str, Any]) -> bool:
        twin = any((m["command_id"], m["user_id"]) == (row["command_id"], row["user_id"]) for m in self.inapp.values())
        if row["id"] in self.inapp or twin:
            return False
        self.inapp[row["id"]] = {**_INAPP_DEFAULTS, **row}
        return True

    async def announce_inapp(self, user_ids: Sequence[str]) -> None:
        self.announced.append(list(user_ids))

    # --- InboxRepository ------------------------------------------------------------------------

    async def users_messages(self, user_ids: Sequence[str], *, now: datetime, since: datetime) -> list[dict[str, Any]]:
        def wanted(m: dict[str, Any]) -> bool:
            answer = m["answer"] or {}
            awaiting = m["answered_at"] is None or (answer.get("partial") is True and answer.get("score") is None)
            live = m["dismissed_at"] is None and awaiting and (m["expires_at"] is None or m["expires_at"] > now)
            return live or (m["shown_at"] is not None and m["shown_at"] >= since)

        found = [m for m in self.inapp.values() if m["user_id"] in user_ids and wanted(m)]
        return [dict(m) for m in sorted(found, key=lambda m: (m["user_id"], m["created_at"], m["id"]))]

    async def mark_shown(self, ids: Sequence[str], *, now: datetime) -> list[dict[str, Any]]:
        marked = []
        for i in sorted(ids):
            if self.inapp[i]["shown_at"] is None:
                self.inapp[i]["shown_at"] = now
                marked.append(dict(self.inapp[i]))
        return marked

    # --- EngagementRepository -------------------------------------------------------------------

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
        self.link_events.append({"delivery_id": delivery_id, "kind": kind, "machine": machine, "url": url})
        column = (
            "machine_opened_at" if kind == "open" and machine else {"open": "opened_at", "click": "clicked_at"}[kind]
        )
        delivery = self.deliveries.get(delivery_id)
        if delivery is None or delivery[column] is not None:
            return False
        delivery[column] = now
        return True

    async def unsubscribe(self, *, email: str, account_id: str, via: str, now: datetime) -> bool:
        known = self.preferences.get(email.lower())
        if known is not None and known["unsubscribed_at"] is not None:
            return False
        self.preferences[email.lower()] = {"unsubscribed_at": now, "account_id": account_id, "via": via}
        self.unsubscribes.add(email.lower())
        return True

    async def record_inapp_event(self, message_id: str, *, event: str, now: datetime) -> bool:
        column = {"seen": "seen_at", "clicked": "clicked_at", "dismissed": "dismissed_at"}[event]
        message = self.inapp.get(message_id)
        if message is None or message[column] is not None:
            return False
        message[column] = now
        return True

    # --- AnswerRepository -----------------------------------------------------------------------

    async def lock_delivery(self, delivery_id: str) -> dict[str, Any] | None:
        found = self.deliveries.get(delivery_id)
        return dict(found) if found is not None else None

    async def log_email_answer(self, *, delivery_id: str, answer: Mapping[str, Any], now: datetime) -> None:
        self.answer_log.append({"delivery_id": delivery_id, "answer": dict(answer), "occurred_at": now})

    async def store_answer(
        self, *, channel: str, source_id: str, answer: Mapping[str, Any], now: datetime
    ) -> int | None:
        row = (self.inapp if channel == "in_app" else self.deliveries).get(source_id)
        if row is None or row["answer"] == dict(answer):
            return None
        row["answer"] = dict(answer)
        row["answered_at"] = now if channel == "in_app" else (row["answered_at"] or now)
        row["answer_seq"] += 1
        return int(row["answer_seq"])

    # --- TaskRepository -------------------------------------------------------------------------

    async def open_task_for(self, *, account_id: str, type_: str, reason: str) -> dict[str, Any] | None:
        for t in self.tasks.values():
            if (t["account_id"], t["type"], t["reason"]) == (account_id, type_, reason) and t["status"] in (
                "open",
                "snoozed",
            ):
                return dict(t)
        return None

    async def next_turn(self, pool: str) -> int:
        self.turns[pool] = self.turns[pool] + 1 if pool in self.turns else 0
        return self.turns[pool]

    async def insert_task(self, row: Mapping[str, Any]) -> dict[str, Any]:
        assert row["id"] not in self.tasks, "duplicate task id"
        assert await self.open_task_for(account_id=row["account_id"], type_=row["type"], reason=row["reason"]) is None
        self.tasks[row["id"]] = {**_TASK_DEFAULTS, **row}
        return dict(self.tasks[row["id"]])

    async def update_task(self, task_id: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        if task_id not in self.tasks:
            return None
        self.tasks[task_id].update(changes)
        return dict(self.tasks[task_id])

    async def bump(self, task_id: str, *, column: str, now: datetime, reopen: bool) -> dict[str, Any]:
        task = self.tasks[task_id]
        task[column] += 1
        task["updated_at"] = now
        if column == "recurrences":
            task["last_recurred_at"] = now
        if reopen:
            task.update(status="open", snoozed_until=None)
        return dict(task)

    async def get_task(self, task_id: str, *, lock: bool = False) -> dict[str, Any] | None:
        found = self.tasks.get(task_id)
        return dict(found) if found is not None else None

    async def add_comment(self, *, task_id: str, author: str | None, body: str, now: datetime) -> None:
        self.comments.append({"task_id": task_id, "author": author, "body": body, "created_at": now})

    async def live_endpoints(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        return [dict(e) for i, e in sorted(self.endpoints.items()) if i in ids and not e.get("disabled_at")]

    async def insert_webhook(
        self, *, delivery_id: str, endpoint_id: str, event_type: str, payload: Any, now: datetime
    ) -> None:
        self.webhooks.setdefault(
            delivery_id, {"endpoint_id": endpoint_id, "event_type": event_type, "payload": payload, "created_at": now}
        )
