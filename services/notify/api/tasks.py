"""CSM task API and the account timeline (bearer token = TOUCHLINE_API_TOKEN)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.api_errors import error_responses, field_error, refuse_nul

from .. import task_handlers as th
from ..adapters import pg_activities, pg_inapp, pg_milestones, pg_tasks
from ..adapters import postgres as pg
from ..adapters.pg_repository import PgRepository
from ..domain import tasks as rules
from ..state import NotifyState, StateDep
from .activities import activity_view
from .schemas import Tasks, TaskWithComments, Timeline

router = APIRouter(tags=["tasks"], dependencies=[Depends(refuse_nul)], responses=error_responses(401, 403, 422))
TASK_ERRORS = error_responses(400, 404, 409)


class OpenTask(BaseModel):
    account_id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100, description="e.g. check_in, churn_risk")
    reason: str = Field(min_length=1, max_length=500, description="why: one open task per account + type + reason")
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    due_at: str | None = Field(
        None, description="a date (due by its end, UTC) or a time with its zone; none = the priority's usual time"
    )
    owner: str | None = Field(None, min_length=3, max_length=320, description="none = the account's CSM, or a pool")
    subject: str | None = Field(None, max_length=500, description="none = type: reason")
    body: str = Field("", max_length=10_000)
    contact: str | None = Field(None, max_length=320)


class Assign(BaseModel):
    owner: str = Field(min_length=3, max_length=320)


class Snooze(BaseModel):
    until: datetime


class Comment(BaseModel):
    body: str = Field(min_length=1, max_length=10_000)
    author: str | None = None


class Close(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    status: Literal["completed", "closed"] = "completed"


async def _task_or_404(conn: AsyncConnection, state: NotifyState, task_id: str) -> dict[str, Any]:
    row = await pg_tasks.get_task(conn, task_id)
    if row is None:
        raise HTTPException(404, f"no task {task_id}")
    view = th.task_view(row, now=state.now())
    view["comments"] = [
        {**c, "created_at": c["created_at"].isoformat()} for c in await pg_tasks.comments(conn, task_id)
    ]
    return view


@router.get("/v1/tasks", response_model=Tasks)
async def list_tasks(
    state: StateDep,
    owner: str | None = None,
    status: Literal["open", "snoozed", "completed", "closed"] | None = None,
    priority: Literal["low", "medium", "high", "urgent"] | None = None,
    overdue: bool = False,
    account_id: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    now = state.now()
    async with state.engine.connect() as conn:
        rows = await pg_tasks.list_tasks(
            conn, owner=owner, status=status, priority=priority, account_id=account_id,
            overdue_at=now if overdue else None, limit=limit,
        )  # fmt: skip
    return {"tasks": [th.task_view(r, now=now) for r in rows]}


@router.post("/v1/tasks", status_code=201, response_model=TaskWithComments, responses=error_responses(400, 409))
async def open_task(body: OpenTask, state: StateDep) -> dict[str, Any]:
    """Open a task by hand. A duplicate of an open or snoozed task (same account, type and reason)
    is a 409 naming that task."""
    try:
        due = rules.parse_due(body.due_at, now=state.now())
    except rules.InvalidTask as exc:
        raise field_error("body", exc.field, exc.message) from None
    for name, value in body.model_dump().items():
        if isinstance(value, str) and "\x00" in value:
            raise field_error("body", name, "must not contain a NUL character")  # Postgres text cannot hold it
    values = {"account_id": body.account_id, "type": body.type.strip(), "reason": body.reason.strip()}
    for name, value in values.items():
        if not value:
            raise field_error("body", name, "must not be blank")
    spec = th.ByHand(
        **values, subject=(body.subject or "").strip() or f"{values['type']}: {values['reason']}", body=body.body,
        priority=body.priority, due_at=due, owner=body.owner, contact=body.contact,
    )  # fmt: skip

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await th.open_by_hand(PgRepository(conn), state.tasks, spec)
        return await _task_or_404(conn, state, row["id"])

    try:
        result: dict[str, Any] = await state.write(work, wake=("outcomes", "mail", "webhooks"))
    except th.TaskAlreadyOpen as exc:
        raise HTTPException(409, str(exc)) from None
    except IntegrityError:
        # Another request opened the same task between our check and our insert.
        async with state.engine.connect() as conn:
            row = await pg_tasks.open_task_for(conn, account_id=spec.account_id, type_=spec.type, reason=spec.reason)
        raise HTTPException(409, str(th.TaskAlreadyOpen(row)) if row else "the same task was just opened") from None
    return result


@router.get("/v1/tasks/{task_id}", response_model=TaskWithComments, responses=error_responses(404))
async def get_task(task_id: str, state: StateDep) -> dict[str, Any]:
    async with state.engine.connect() as conn:
        return await _task_or_404(conn, state, task_id)


async def _act(state: NotifyState, task_id: str, action: Any) -> dict[str, Any]:
    """Run ``action`` (given the task repository) and answer with the task, in one transaction."""

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        try:
            await action(PgRepository(conn))
        except th.TaskNotFound:
            raise HTTPException(404, f"no task {task_id}") from None
        except th.TaskClosed as exc:
            raise HTTPException(409, str(exc)) from None
        return await _task_or_404(conn, state, task_id)

    result: dict[str, Any] = await state.write(work, wake=("outcomes", "mail", "webhooks"))
    return result


@router.post("/v1/tasks/{task_id}/assign", response_model=TaskWithComments, responses=TASK_ERRORS)
async def assign(task_id: str, body: Assign, state: StateDep) -> dict[str, Any]:
    return await _act(state, task_id, lambda r: th.assign(r, state.tasks, task_id, owner=body.owner))


@router.post("/v1/tasks/{task_id}/snooze", response_model=TaskWithComments, responses=TASK_ERRORS)
async def snooze(task_id: str, body: Snooze, state: StateDep) -> dict[str, Any]:
    if body.until.tzinfo is None:
        raise field_error("body", "until", "give a time zone (e.g. 2027-01-10T09:00Z)")
    if body.until <= state.now():
        raise field_error("body", "until", "must be in the future")
    return await _act(state, task_id, lambda r: th.snooze(r, state.tasks, task_id, until=body.until))


@router.post("/v1/tasks/{task_id}/comment", response_model=TaskWithComments, responses=TASK_ERRORS)
async def comment(task_id: str, body: Comment, state: StateDep) -> dict[str, Any]:
    return await _act(state, task_id, lambda r: th.comment(r, state.tasks, task_id, author=body.author, body=body.body))


@router.post("/v1/tasks/{task_id}/complete", response_model=TaskWithComments, responses=TASK_ERRORS)
async def complete(task_id: str, body: Close, state: StateDep) -> dict[str, Any]:
    return await _act(
        state, task_id, lambda r: th.complete(r, state.tasks, task_id, status=body.status, reason=body.reason)
    )


def _iso(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


@router.get("/v1/accounts/{account_id}/timeline", response_model=Timeline)
async def timeline(account_id: str, state: StateDep, limit: int = Query(200, ge=1, le=2000)) -> dict[str, Any]:
    """Mails (with opened/clicked/answered), in-app messages (with answers), tasks, logged activities
    (at the time they happened) and milestones (the account's trainings, the product's releases), newest first."""
    async with state.engine.connect() as conn:
        mails = await pg.account_deliveries(conn, account_id, limit=limit)
        inapp = await pg_inapp.account_messages(conn, account_id, limit=limit)
        tasks = await pg_tasks.account_tasks(conn, account_id, limit=limit)
        logged = await pg_activities.account_activities(conn, account_id, limit=limit)
        # The account's trainings and the product's releases (milestones.py), beside what was sent.
        milestones = await pg_milestones.list_milestones(
            conn, since=None, until=None, account_id=account_id, limit=limit
        )
    # "channel" names the kind of item; "type" is kept for readers written against it (a task row's own
    # "type" column, the task type, overrides it).
    items = (
        [{"type": "email", "channel": "email", "at": m["created_at"], **_iso(m)} for m in mails]
        + [{"type": "in_app", "channel": "in_app", "at": m["created_at"], **_iso(m)} for m in inapp]
        + [{"type": "task", **_iso(t), "channel": "task", "at": t["created_at"]} for t in tasks]
        + [{**activity_view(a), "type": "activity", "channel": "activity", "at": a["occurred_at"]} for a in logged]
        + [{**_iso(m), "type": "milestone", "channel": "milestone", "at": m["occurred_at"]} for m in milestones]
    )
    items.sort(key=lambda i: i["at"], reverse=True)
    return {"account_id": account_id, "items": [{**i, "at": i["at"].isoformat()} for i in items[:limit]]}
