"""Feedback: NPS over time, keywords and themes per survey kind and group, latest comments, drill-down
to accounts, and the accounts whose value is not realised (shared/hidden_value.py)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from touchline.shared.hidden_value import HiddenValue, Said, value_not_realised

from .. import charts, feedback
from ..models import Milestone, SurveyAnswer, UsageAround
from ..ports import Backend, BackendRefused
from .accounts import BadInput
from .common import Acting, SignedIn, back_to, parse_day

router = APIRouter()
PERIODS = (3, 6, 12, 24)
MILESTONE_KINDS = ("release", "training")
SUBSCRIPTION_KINDS = ("standard", "slack")
USAGE_CONCURRENCY = 8  # health reads in flight for one page's milestones


@router.get("/feedback")
async def feedback_page(request: Request, ctx: SignedIn) -> Response:
    raw = request.query_params.get("months", "6")
    if not raw.isdigit() or int(raw) not in PERIODS:
        raise BadInput("months", f"must be one of {', '.join(map(str, PERIODS))}")
    months = int(raw)
    word = (request.query_params.get("word") or "").strip()[:50] or None
    state = request.app.state.console
    now = await ctx.backend.now()
    notice = None
    try:
        answers = await ctx.backend.survey_answers(since=now - timedelta(days=31 * months))
    except BackendRefused as exc:
        notice, answers = exc.message, []
    try:
        milestones, window = await ctx.backend.milestones(since=now - timedelta(days=31 * months))
    except BackendRefused as exc:
        notice, milestones, window = notice or exc.message, [], 0
    try:
        usage = await usage_around(ctx.backend, milestones, days=window)
    except BackendRefused as exc:
        notice, usage = notice or exc.message, {}
    try:
        subscriptions = await ctx.backend.theme_subscriptions()
    except BackendRefused as exc:
        notice, subscriptions = notice or exc.message, []
    tokenizer = state.tokenizer()
    # Tokenizing is CPU work; a thread keeps other CSMs' pages answering meanwhile.
    tokenized = await asyncio.to_thread(feedback.tokenize, answers, tokenizer=tokenizer)
    keywords = feedback.keywords(tokenized, top=25)
    themes = feedback.themes(tokenized, catalogue=state.themes)
    groups = feedback.by_group(answers, tokenized, catalogue=state.themes, top=8)
    matches = feedback.matching(tokenized, word=word) if word else None
    monthly = feedback.by_month(answers, now=now, months=months)
    chart = charts.nps_chart(
        [charts.NpsBar(key, s.promoters, s.passives, s.detractors, s.nps) for key, s in monthly],
        label=ctx.t("feedback.chart_label"),
    )
    comments = matches if matches is not None else [a for a in answers if a.comment.strip()]
    comments = sorted(comments, key=lambda a: a.at, reverse=True)[:30]
    return ctx.render(
        "feedback.html",
        notice=notice,
        summary=feedback.summarise(answers),
        chart=chart,
        keywords=keywords,
        themes=themes,
        comments=comments,
        word=word,
        months=months,
        periods=PERIODS,
        groups=groups,
        milestones=milestones,
        window=window,
        usage=usage,
        milestone_kinds=MILESTONE_KINDS,
        subscriptions=subscriptions,
        catalogue=state.themes,
        hidden=hidden_value(answers, now=now),
        kind_of=feedback.kind_of,
        group_of=feedback.group_of,
    )


async def usage_around(backend: Backend, milestones: list[Milestone], *, days: int) -> dict[str, UsageAround]:
    """Health's usage before and after each milestone shown (over the same window as its NPS), by
    milestone id; a few at a time so a long list does not flood health."""
    if not days:
        return {}
    gate = asyncio.Semaphore(USAGE_CONCURRENCY)

    async def one(m: Milestone) -> UsageAround:
        async with gate:
            return await backend.usage_around(at=m.occurred_at, days=days, account_id=m.account_id)

    found = await asyncio.gather(*(one(m) for m in milestones))
    return {m.id: u for m, u in zip(milestones, found, strict=True)}


def hidden_value(answers: list[SurveyAnswer], *, now: datetime) -> list[tuple[str, HiddenValue]]:
    """Accounts flagged "value not realised", by account id."""
    said: dict[str, list[Said]] = defaultdict(list)
    for a in answers:
        said[a.account_id].append(Said(at=a.at, survey=a.survey, score=a.score, features=a.features))
    flagged = ((account, value_not_realised(items, now=now)) for account, items in sorted(said.items()))
    return [(account, flag) for account, flag in flagged if flag is not None]


@router.post("/feedback/milestones")
async def add_milestone(request: Request, ctx: Acting) -> Response:
    """A CSM records a release or a training (products report theirs as events)."""
    form = await request.form()
    here = "/feedback"
    try:
        kind = str(form.get("kind", ""))
        if kind not in MILESTONE_KINDS:
            raise BadInput("kind", f"must be one of {', '.join(MILESTONE_KINDS)}")
        title = str(form.get("title", "")).strip()
        if not title:
            raise BadInput("title", ctx.t("feedback.milestone_title_empty"))
        try:
            day = parse_day(str(form.get("day", "")))
        except ValueError:
            day = None
        if day is None:
            raise BadInput("day", ctx.t("feedback.milestone_day"))
        account = str(form.get("account_id", "")).strip() or None
        await ctx.backend.add_milestone(
            kind=kind, title=title[:200], occurred_at=day, account_id=account, by=ctx.user.email
        )
    except BadInput as exc:
        return back_to(here, err=str(exc))
    except BackendRefused as exc:
        return back_to(here, err=exc.message)
    return back_to(here, msg="milestone_added")


@router.post("/feedback/subscriptions")
async def subscribe(request: Request, ctx: Acting) -> Response:
    """A team subscribes to a theme; a signed webhook's secret is shown this once (never in a URL)."""
    form = await request.form()
    try:
        theme = str(form.get("theme", ""))
        if theme not in request.app.state.console.themes:
            raise BadInput("theme", "unknown theme")
        kind = str(form.get("kind", ""))
        if kind not in SUBSCRIPTION_KINDS:
            raise BadInput("kind", f"must be one of {', '.join(SUBSCRIPTION_KINDS)}")
        team = str(form.get("team", "")).strip()[:200]
        if not team:
            raise BadInput("team", ctx.t("feedback.team_empty"))
        url = str(form.get("url", "")).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadInput("url", ctx.t("feedback.url_bad"))
        secret = await ctx.backend.subscribe_theme(theme=theme, team=team, kind=kind, url=url)
    except BadInput as exc:
        return back_to("/feedback", err=str(exc))
    except BackendRefused as exc:
        return back_to("/feedback", err=exc.message)
    if secret is None:
        return back_to("/feedback", msg="subscribed")
    return ctx.render("subscribed.html", theme=theme, team=team, url=url, secret=secret)


@router.post("/feedback/subscriptions/{subscription_id}/delete")
async def unsubscribe(subscription_id: str, ctx: Acting) -> Response:
    try:
        await ctx.backend.unsubscribe_theme(subscription_id)
    except BackendRefused as exc:
        return back_to("/feedback", err=exc.message)
    return back_to("/feedback", msg="unsubscribed")
