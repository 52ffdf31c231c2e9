"""CSM tasks: opening (one open task per account + type + reason), the CSM's actions, telling the CSM.

Used by the consumer (task commands) and by the task API; each function reads and writes through a
TaskRepository in the caller's transaction and stages its outcomes and notifications there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from touchline.shared.messages import Command, TaskSpec

from .compose import Composer, template_context
from .domain import tasks as rules
from .domain.email import Recipient, delivery_id, pick_locale
from .domain.outcomes import outcome_for
from .ports import TaskRepository
from .templates import TASK_TEMPLATE

_TASK_NS = uuid.UUID("a6d4c1f0-2b7e-4e9a-8c3d-1f2e3d4c5b6a")
PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2, "urgent": 3}


@dataclass(frozen=True)
class TaskDeps:
    composer: Composer
    pools: Mapping[str, Sequence[str]]
    now: Callable[[], datetime]
    # The webhook endpoints this instance's configuration names: only they are told.
    endpoints: Sequence[str] = ()


class TaskNotFound(LookupError):
    pass


class TaskClosed(ValueError):
    pass


class TaskAlreadyOpen(ValueError):
    """A task opened by hand duplicates an open (or snoozed) one: the CSM works on that one instead."""

    def __init__(self, row: Mapping[str, Any]) -> None:
        super().__init__(
            f"task {row['id']} ({row['subject']!r}, {row['status']}, owner {row['owner'] or 'unassigned'}) is already "
            f"open for account {row['account_id']}, type {row['type']!r}, reason {row['reason']!r}: update it instead"
        )
        self.task_id = str(row["id"])


@dataclass(frozen=True)
class ByHand:
    """A task a person opens from the console or the API (not from a playbook)."""

    account_id: str
    type: str
    reason: str
    subject: str
    body: str
    priority: str
    due_at: datetime | None
    owner: str | None
    contact: str | None


async def _owner_for(repo: TaskRepository, deps: TaskDeps, account_id: str) -> str | None:
    account = await repo.get_account(account_id)
    pool = rules.pool_for(account.tier if account else None, deps.pools)
    turn = await repo.next_turn(pool) if pool and not (account and account.csm_owner) else 0
    return rules.pick_owner(
        csm_owner=account.csm_owner if account else None, pool=deps.pools.get(pool or ""), turn=turn
    )


async def open_by_hand(repo: TaskRepository, deps: TaskDeps, spec: ByHand) -> Mapping[str, Any]:
    """Open the task under the one-open-per-account+type+reason rule: a duplicate is refused
    (TaskAlreadyOpen names the open one), never merged silently. No owner given: as a playbook's."""
    existing = await repo.open_task_for(account_id=spec.account_id, type_=spec.type, reason=spec.reason)
    if existing is not None:
        raise TaskAlreadyOpen(existing)
    now = deps.now()
    owner = spec.owner or await _owner_for(repo, deps, spec.account_id)
    fields = _open_task_fields(spec, account_id=spec.account_id, contact=spec.contact, owner=owner, now=now)
    row = await repo.insert_task({"id": str(uuid.uuid4()), **fields})
    await tell(repo, deps, row, kind="task.opened", occurrence="opened", detail=f"owner {owner or 'unassigned'}")
    return row


def _open_task_fields(
    spec: ByHand | TaskSpec, *, account_id: str, contact: str | None, owner: str | None, now: datetime
) -> dict[str, Any]:
    """The row of a newly opened task, whether a CSM or a playbook opened it."""
    return {
        "account_id": account_id,
        "contact": contact,
        "type": spec.type,
        "reason": spec.reason,
        "subject": spec.subject,
        "body": spec.body,
        "priority": spec.priority,
        "status": "open",
        "owner": owner,
        "due_at": rules.due_at(priority=spec.priority, created_at=now, explicit=spec.due_at),
        "created_at": now,
        "updated_at": now,
    }


async def on_task_command(repo: TaskRepository, deps: TaskDeps, cmd: Command) -> None:
    spec = cmd.task
    if spec is None:
        raise ValueError("task: a task command needs a task spec")
    now = deps.now()
    existing = await repo.open_task_for(account_id=cmd.account_id, type_=spec.type, reason=spec.reason)
    state = rules.ExistingTask(existing["id"], existing["status"], existing["snoozed_until"]) if existing else None
    decision = rules.decide(state, now=now)
    link = {"command_id": cmd.command_id, "playbook": cmd.playbook, "step": cmd.step, "enrolment_id": cmd.enrolment_id}
    if isinstance(decision, rules.Create):
        owner = await _owner_for(repo, deps, cmd.account_id)
        contact = _contact(cmd.variables.get("contact"))
        fields = _open_task_fields(spec, account_id=cmd.account_id, contact=contact, owner=owner, now=now)
        row = await repo.insert_task({"id": str(uuid.uuid5(_TASK_NS, cmd.command_id)), **fields, **link})
        await tell(repo, deps, row, kind="task.opened", occurrence="opened", detail=f"owner {owner or 'unassigned'}")
        return
    if isinstance(decision, rules.HoldBack):
        row = await repo.bump(decision.task_id, column="held_back", now=now, reopen=False)
        detail = f"held back: snoozed until {decision.until.isoformat()}"
        await tell(repo, deps, row, kind="task.updated", occurrence=f"held-{row['held_back']}", detail=detail)
        return
    task_id = decision.task_id
    assert existing is not None
    changes: dict[str, Any] = {"subject": spec.subject, "body": spec.body or existing["body"], **link}
    if PRIORITY_RANK.get(spec.priority, 1) > PRIORITY_RANK.get(existing["priority"], 1):
        changes["priority"] = spec.priority
        changes["due_at"] = min(
            existing["due_at"], rules.due_at(priority=spec.priority, created_at=now, explicit=spec.due_at)
        )
    await repo.update_task(task_id, changes)
    reopen = isinstance(decision, rules.Reopen)
    row = await repo.bump(task_id, column="recurrences", now=now, reopen=reopen)
    detail = "reopened after snooze" if reopen else f"recurred ({row['recurrences']} times)"
    await tell(
        repo, deps, row, kind="task.updated", occurrence=f"recur-{row['recurrences']}", detail=detail, mail=reopen
    )


async def tell(
    repo: TaskRepository,
    deps: TaskDeps,
    row: Mapping[str, Any],
    *,
    kind: str,
    occurrence: str,
    detail: str,
    mail: bool | None = None,
) -> None:
    """Stage the outcome, webhooks for it, and (new or reassigned task) a mail to the owner."""
    now = deps.now()
    outcome = outcome_for(
        {**row, "template": None, "user_id": None}, kind=kind, occurrence=occurrence, now=now, detail=detail
    )
    await repo.add_outcomes([outcome])
    payload = {"type": kind, "timestamp": now.isoformat(), "detail": detail, "data": task_view(row, now=now)}
    for endpoint in await repo.live_endpoints(deps.endpoints):
        if endpoint["kind"] == "slack" and kind != "task.opened":
            continue
        body = _slack_text(row) if endpoint["kind"] == "slack" else payload
        await repo.insert_webhook(
            delivery_id=f"{endpoint['id']}:{outcome.outcome_id}",
            endpoint_id=endpoint["id"],
            event_type=kind,
            payload=body,
            now=now,
        )
    if (kind == "task.opened" if mail is None else mail) and row["owner"]:
        await mail_owner(repo, deps, row, occurrence=occurrence)


async def mail_owner(repo: TaskRepository, deps: TaskDeps, row: Mapping[str, Any], *, occurrence: str) -> None:
    """A mail to the CSM: internal, so preferences never suppress it."""
    now = deps.now()
    account = await repo.get_account(row["account_id"])
    owner = str(row["owner"])
    recipient = Recipient(
        owner, None, pick_locale(account.locale if account else None, default=deps.composer.default_locale), None, True
    )
    command_id = f"task:{row['id']}:{occurrence}"
    variables = {"task": {**task_view(row, now=now), "due_at": _date(row["due_at"])}}
    source = {**row, "command_id": command_id, "dedup_key": command_id}
    delivery = deps.composer.delivery_row(
        delivery_id=delivery_id(command_id, owner),
        template=TASK_TEMPLATE,
        recipient=recipient,
        context=template_context(
            account=account, account_id=row["account_id"], contact=None, variables=variables, brand=deps.composer.brand
        ),
        now=now,
        source=source,
    )
    await repo.insert_delivery(delivery)


def _contact(value: Any) -> str | None:
    """The task's contact as touch names it: an address or user id, or a {email|user_id} object."""
    if isinstance(value, dict):
        value = value.get("email") or value.get("user_id")
    return str(value) if value else None


def _date(value: datetime | None) -> str:
    return value.date().isoformat() if value else ""


def _slack_text(row: Mapping[str, Any]) -> dict[str, str]:
    return {
        "text": f"New {row['priority']} task for {row['account_id']}: {row['subject']} "
        f"(owner {row['owner'] or 'unassigned'}, due {_date(row['due_at'])})"
    }


def task_view(row: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    view = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    view["overdue"] = rules.is_overdue(due=row["due_at"], status=row["status"], now=now)
    due = row["due_at"]
    view["days_past_due"] = max((now - due).days, 0) if due and view["overdue"] else 0
    return view


async def _load_open(repo: TaskRepository, task_id: str) -> Mapping[str, Any]:
    row = await repo.get_task(task_id, lock=True)
    if row is None:
        raise TaskNotFound(task_id)
    if row["status"] not in ("open", "snoozed"):
        raise TaskClosed(f"task {task_id} is {row['status']}")
    return row


async def assign(repo: TaskRepository, deps: TaskDeps, task_id: str, *, owner: str) -> Mapping[str, Any]:
    await _load_open(repo, task_id)
    row = await repo.update_task(task_id, {"owner": owner, "updated_at": deps.now()})
    assert row is not None
    occurrence = f"assign-{uuid.uuid4().hex[:12]}"
    await tell(repo, deps, row, kind="task.updated", occurrence=occurrence, detail=f"assigned to {owner}", mail=True)
    return row


async def snooze(repo: TaskRepository, deps: TaskDeps, task_id: str, *, until: datetime) -> Mapping[str, Any]:
    await _load_open(repo, task_id)
    row = await repo.update_task(task_id, {"status": "snoozed", "snoozed_until": until, "updated_at": deps.now()})
    assert row is not None
    await tell(
        repo,
        deps,
        row,
        kind="task.updated",
        occurrence=f"snooze-{until.isoformat()}",
        detail=f"snoozed until {until.isoformat()}",
        mail=False,
    )
    return row


async def comment(repo: TaskRepository, deps: TaskDeps, task_id: str, *, author: str | None, body: str) -> None:
    row = await repo.get_task(task_id)
    if row is None:
        raise TaskNotFound(task_id)
    await repo.add_comment(task_id=task_id, author=author, body=body, now=deps.now())


async def complete(
    repo: TaskRepository, deps: TaskDeps, task_id: str, *, status: str, reason: str
) -> Mapping[str, Any]:
    await _load_open(repo, task_id)
    now = deps.now()
    row = await repo.update_task(
        task_id, {"status": status, "close_reason": reason, "closed_at": now, "updated_at": now}
    )
    assert row is not None
    await tell(repo, deps, row, kind="task.completed", occurrence="closed", detail=f"{status}: {reason}", mail=False)
    return row
