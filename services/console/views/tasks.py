"""The task inbox (mine / team / overdue, by priority) and the task actions, all through notify."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..models import PRIORITIES, TaskQuery
from ..ports import BackendRefused
from .accounts import BadInput, _choice, _page_number
from .common import Acting, Ctx, SignedIn, back_to, parse_day, require, safe_next

router = APIRouter()
VIEWS = ("mine", "team", "overdue")
CLOSE_REASONS = ("resolved", "customer_unreachable", "not_needed", "duplicate", "other")
PAGE = 50


@router.get("/tasks")
async def inbox(request: Request, ctx: SignedIn) -> Response:
    view = _choice(request, "view", VIEWS) or "mine"
    priority = _choice(request, "priority", PRIORITIES)
    page = _page_number(request)
    owners: tuple[str, ...] = (ctx.user.email,)
    if view == "team":
        require(ctx, "tasks.team")
        owners = tuple(ctx.users.team_of(ctx.user.email))
    query = TaskQuery(
        owners=owners, status="open", priority=priority, overdue=view == "overdue", limit=PAGE, offset=(page - 1) * PAGE
    )
    result = await ctx.backend.tasks(query)
    now = await ctx.backend.now()
    return ctx.render(
        "tasks.html",
        result=result,
        view=view,
        views=VIEWS,
        priority=priority,
        priorities=PRIORITIES,
        close_reasons=CLOSE_REASONS,
        colleagues=ctx.users.all(),
        now=now,
        page=page,
    )


async def _payload(request: Request, action: str, ctx: Ctx) -> dict[str, Any]:
    form = await request.form()
    if action == "complete":
        reason = str(form.get("close_reason", ""))
        if reason not in CLOSE_REASONS:
            raise BadInput("close_reason", f"must be one of {', '.join(CLOSE_REASONS)}")
        return {"close_reason": reason, "note": str(form.get("note", "")).strip()[:2000]}
    if action == "snooze":
        try:
            until = parse_day(str(form.get("until", "")))
        except ValueError:
            until = None
        if until is None or until <= await ctx.backend.now():
            raise BadInput("until", ctx.t("tasks.snooze_future"))
        return {"until": until}
    if action == "comment":
        text = str(form.get("text", "")).strip()
        if not text:
            raise BadInput("text", ctx.t("tasks.comment_empty"))
        return {"text": text[:4000]}
    if action == "assign":
        require(ctx, "tasks.reassign")
        owner = str(form.get("owner", "")).strip().lower()
        if ctx.users.get(owner) is None:
            raise BadInput("owner", ctx.t("tasks.unknown_owner"))
        return {"owner": owner}
    raise BadInput("action", "must be complete, snooze, comment or assign")


@router.post("/tasks/{task_id}/{action}")
async def task_action(request: Request, task_id: str, action: str, ctx: Acting) -> Response:
    form = await request.form()
    here = safe_next(str(form.get("next", "")), default="/tasks")
    try:
        payload = await _payload(request, action, ctx)
        await ctx.backend.task_action(task_id, action, payload, by=ctx.user.email)
    except BadInput as exc:
        return back_to(here, err=str(exc))
    except BackendRefused as exc:
        return back_to(here, err=exc.message)
    return back_to(here, msg=f"task_{action}")
