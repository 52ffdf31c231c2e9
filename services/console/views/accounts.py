"""The account list and the account page, and the changes made from them (override, enrolments,
logged activities, tasks opened by hand)."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from touchline.shared.contact import ACTIVITY_KINDS
from touchline.shared.messages import BANDS

from .. import charts
from ..explain import top_reasons
from ..models import AccountQuery, NewActivity, NewTask, Page, TaskQuery
from ..ports import BackendRefused
from .common import Acting, Ctx, SignedIn, back_to, parse_day, require

router = APIRouter()
SORTS = ("score", "-score", "name", "-name", "renewal", "-renewal", "owner")
TIERS = ("high", "low", "tech")
PHASES = ("onboarding", "adoption", "retention", "renewal", "churned")
PRIORITIES = ("low", "medium", "high", "urgent")


class BadInput(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in allowed:
        raise BadInput(name, f"must be one of {', '.join(allowed)}")
    return value


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput("page", "must be a whole number ≥ 1")
    return int(raw)


def account_query(request: Request, ctx: SignedIn, *, limit: int, offset: int) -> tuple[str, AccountQuery]:
    """The list's scope and filters from the query string (the page and its CSV export read the same)."""
    scope = _choice(request, "scope", ("mine", "all")) or "mine"
    if scope == "all":
        require(ctx, "accounts.all")
    return scope, AccountQuery(
        owner=ctx.user.email if scope == "mine" else None,
        band=_choice(request, "band", BANDS),
        tier=_choice(request, "tier", TIERS),
        phase=_choice(request, "phase", PHASES),
        search=(request.query_params.get("q") or "").strip()[:100] or None,
        sort=_choice(request, "sort", SORTS) or "score",
        limit=limit,
        offset=offset,
    )


@router.get("/")
async def home(ctx: SignedIn) -> Response:
    return back_to("/accounts")


@router.get("/accounts")
async def account_list(request: Request, ctx: SignedIn) -> Response:
    size = request.app.state.console.settings.page_size
    page = _page_number(request)
    scope, query = account_query(request, ctx, limit=size, offset=(page - 1) * size)
    notice = None
    try:
        result = await ctx.backend.list_accounts(query)
    except BackendRefused as exc:
        # e.g. "my accounts" while no service lists accounts by owner: say so and show what can be shown.
        notice = exc.message
        query = replace(query, owner=None, tier=None, phase=None, search=None, sort="score")
        scope = "all"
        try:
            result = await ctx.backend.list_accounts(query)
        except BackendRefused:
            result = Page([], 0, query.limit, query.offset)
    sparks = {
        row.account_id: charts.sparkline(row.trend, label=ctx.t("accounts.trend_label", name=row.name))
        for row in result.items
    }
    return ctx.render(
        "accounts.html",
        result=result,
        notice=notice,
        sparks=sparks,
        scope=scope,
        query=query,
        page=page,
        bands=BANDS,
        tiers=TIERS,
        phases=PHASES,
        sorts=SORTS,
        params={k: v for k, v in request.query_params.items() if k != "page"},
    )


@router.get("/accounts/{account_id}")
async def account_page(account_id: str, ctx: SignedIn) -> Response:
    backend = ctx.backend
    now = await backend.now()
    since = now - timedelta(days=90)
    reads = asyncio.gather(
        backend.score(account_id),
        backend.history(account_id, since=since),
        backend.tier(account_id),
        backend.enrolments(account_id),
        backend.tasks(TaskQuery(account_id=account_id, status=None, limit=50)),
        backend.timeline(account_id, limit=50),
    )
    (detail, history, tier, enrolments, tasks, timeline), playbooks = await asyncio.gather(
        reads, backend.playbook_names()
    )
    if detail is None and tier is None:
        return ctx.render("error.html", status=404, message=ctx.t("account.not_found", account_id=account_id))
    chart = charts.history_chart(
        [charts.Point(p.at, p.score, p.band) for p in history],
        start=since,
        end=now,
        label=ctx.t("account.history_label"),
        empty_text=ctx.t("account.no_history"),
    )
    # health names an account it has no name trait for by its id; touch may know the name.
    names = [detail.name if detail else None, tier.name if tier else None]
    title = next((n for n in names if n and n != account_id), account_id)
    return ctx.render(
        "account.html",
        account_id=account_id,
        title=title,
        detail=detail,
        reasons=top_reasons(detail, ctx.t) if detail else [],
        playbooks=playbooks,
        activity_kinds=ACTIVITY_KINDS,
        priorities=PRIORITIES,
        today=now.date().isoformat(),
        activity_id=uuid.uuid4().hex,
        chart=chart,
        tier=tier,
        enrolments=enrolments,
        tasks=tasks.items,
        timeline=timeline,
        bands=BANDS,
        now=now,
        default_expiry=(now + timedelta(days=30)).date().isoformat(),
    )


@router.post("/accounts/{account_id}/override")
async def override(request: Request, account_id: str, ctx: Acting) -> Response:
    form = await request.form()
    here = f"/accounts/{account_id}"
    raw_score, band = str(form.get("score", "")).strip(), str(form.get("band", "")).strip() or None
    reason = str(form.get("reason", "")).strip()
    try:
        score = _score(raw_score, ctx)
        if band is not None and band not in BANDS:
            raise BadInput("band", ctx.t("override.band_invalid"))
        if score is None and band is None:
            raise BadInput("score", ctx.t("override.need_one"))
        if not reason:
            raise BadInput("reason", ctx.t("override.need_reason"))
        now = await ctx.backend.now()
        expires_at = _expiry(str(form.get("expires", "")), ctx) or now + timedelta(days=30)
        if expires_at <= now:
            raise BadInput("expires", ctx.t("override.expiry_past"))
    except BadInput as exc:
        return back_to(here, err=str(exc))
    try:
        await ctx.backend.set_override(
            account_id, score=score, band=band, reason=reason[:500], expires_at=expires_at, by=ctx.user.email
        )
    except BackendRefused as exc:
        return back_to(here, err=exc.message)
    return back_to(here, msg="override_saved")


def _score(raw: str, ctx: Ctx) -> float | None:
    if not raw:
        return None
    try:
        score = float(raw)
    except ValueError:
        raise BadInput("score", ctx.t("override.bad_value")) from None
    if not 0 <= score <= 100:
        raise BadInput("score", ctx.t("override.score_range"))
    return score


def _expiry(raw: str, ctx: Ctx) -> datetime | None:
    try:
        return parse_day(raw)
    except ValueError:
        raise BadInput("expires", ctx.t("override.bad_value")) from None


@router.post("/accounts/{account_id}/override/delete")
async def clear_override(account_id: str, ctx: Acting) -> Response:
    try:
        await ctx.backend.clear_override(account_id, by=ctx.user.email)
    except BackendRefused as exc:
        return back_to(f"/accounts/{account_id}", err=exc.message)
    return back_to(f"/accounts/{account_id}", msg="override_cleared")


@router.post("/enrolments/{enrolment_id}/{action}")
async def enrolment_action(request: Request, enrolment_id: str, action: str, ctx: Acting) -> Response:
    form = await request.form()
    account_id = str(form.get("account_id", ""))
    here = f"/accounts/{account_id}" if account_id else "/accounts"
    if action not in ("pause", "resume", "cancel"):
        return Response(f"action: must be pause, resume or cancel, not {action[:20]!r}", status_code=404)
    try:
        await ctx.backend.enrolment_action(enrolment_id, action, by=ctx.user.email)  # type: ignore[arg-type]
    except BackendRefused as exc:
        return back_to(here, err=exc.message)
    return back_to(here, msg=f"enrolment_{action}")


@router.post("/accounts/{account_id}/activities")
async def log_activity(request: Request, account_id: str, ctx: Acting) -> Response:
    """Log a call, meeting, email or note; notify checks the rest and its refusal names the field."""
    form = await request.form()
    here = f"/accounts/{account_id}"
    text = {k: str(form.get(k, "")).strip() for k in ("kind", "contact", "occurred_at", "outcome", "reached")}
    rating = str(form.get("relationship", "")).strip()
    activity_id = str(form.get("activity_id", "")).strip() or None
    try:
        if activity_id is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,100}", activity_id):
            raise BadInput("activity_id", ctx.t("activity.id_invalid"))
        if text["kind"] not in ACTIVITY_KINDS:
            raise BadInput("kind", ctx.t("activity.kind_invalid"))
        if rating and rating not in ("1", "2", "3", "4", "5"):
            raise BadInput("relationship", ctx.t("activity.rating_invalid"))
        if text["reached"] not in ("", "yes", "no"):
            raise BadInput("reached", ctx.t("activity.reached_invalid"))
    except BadInput as exc:
        return back_to(here, err=str(exc))
    activity = NewActivity(
        kind=text["kind"],
        contact=text["contact"] or None,
        occurred_at=text["occurred_at"],
        outcome=text["outcome"],
        # A note is never contact: what the select says does not apply to it.
        reached=None if text["kind"] == "note" else {"yes": True, "no": False}.get(text["reached"]),
        relationship=int(rating) if rating else None,
        id=activity_id,
    )
    try:
        await ctx.backend.log_activity(account_id, activity, by=ctx.user.email)
    except BackendRefused as exc:
        return back_to(here, err=exc.message)
    return back_to(here, msg="activity_logged")


@router.post("/accounts/{account_id}/tasks")
async def open_task(request: Request, account_id: str, ctx: Acting) -> Response:
    """Open a task by hand; a duplicate of an open one comes back as notify's 409 naming it."""
    form = await request.form()
    here = f"/accounts/{account_id}"
    text = {k: str(form.get(k, "")).strip() for k in ("type", "reason", "priority", "due_at", "owner", "subject")}
    if text["priority"] not in PRIORITIES:
        return back_to(here, err=f"priority: {ctx.t('task_form.priority_invalid')}")
    task = NewTask(
        account_id=account_id,
        type=text["type"],
        reason=text["reason"],
        priority=text["priority"],
        due_at=text["due_at"] or None,
        owner=text["owner"] or None,
        subject=text["subject"] or None,
    )
    try:
        await ctx.backend.open_task(task, by=ctx.user.email)
    except BackendRefused as exc:
        return back_to(here, err=exc.message)
    return back_to(here, msg="task_opened")


@router.post("/accounts/{account_id}/enrol")
async def enrol(request: Request, account_id: str, ctx: Acting) -> Response:
    form = await request.form()
    here = f"/accounts/{account_id}"
    playbook = str(form.get("playbook", "")).strip()
    if not playbook:
        return back_to(here, err=f"playbook: {ctx.t('enrol.need_playbook')}")
    try:
        await ctx.backend.enrol(account_id, playbook, by=ctx.user.email)
    except BackendRefused as exc:
        return back_to(here, err=exc.message)
    return back_to(here, msg="enrolled")
