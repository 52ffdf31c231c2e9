"""Feedback: NPS over time, latest comments, keywords and themes, drill-down to accounts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import charts, feedback
from ..ports import BackendRefused
from .accounts import BadInput
from .common import SignedIn

router = APIRouter()
PERIODS = (3, 6, 12, 24)


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
        answers = await ctx.backend.nps_answers(since=now - timedelta(days=31 * months))
    except BackendRefused as exc:
        notice, answers = exc.message, []
    tokenizer = state.tokenizer()
    # Tokenizing is CPU work; a thread keeps other CSMs' pages answering meanwhile.
    tokenized = await asyncio.to_thread(feedback.tokenize, answers, tokenizer=tokenizer)
    keywords = feedback.keywords(tokenized, top=25)
    themes = feedback.themes(tokenized, catalogue=state.themes)
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
        bucket=feedback.bucket,
    )
