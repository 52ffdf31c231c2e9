"""Can the scores be trusted: the trust report (did past scores predict churn?) and, per
scorecard, the hand-set weights against weights learned from outcomes, with the proposal to
download. Nothing here changes a weight: adopting a proposal is an operator loading the file."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from ..ports import BackendRefused
from .accounts import BadInput
from .common import SignedIn

router = APIRouter()


@router.get("/scores")
async def scores_page(request: Request, ctx: SignedIn) -> Response:
    backend = ctx.backend
    trust, cards = await asyncio.gather(backend.trust(), backend.scorecards())
    chosen = request.query_params.get("scorecard") or (cards[0] if cards else None)
    if chosen is not None and chosen not in cards:
        raise BadInput("scorecard", f"must be one of {', '.join(cards)}")
    notice, comparison = None, None
    if chosen is not None:
        try:
            comparison = await backend.weights_comparison(chosen)
        except BackendRefused as exc:
            notice = exc.message
    return ctx.render("scores.html", trust=trust, scorecards=cards, chosen=chosen, comparison=comparison, notice=notice)


_TEXT = {"text/plain": {"schema": {"type": "string"}}}
# Not a page: the console's spec takes these answers instead of a page's (see main.console_openapi).
PROPOSAL_ANSWERS: dict[str, dict[str, Any]] = {
    "200": {
        "description": "the proposal (scorecards YAML) as a download",
        "content": {"application/yaml": {"schema": {"type": "string"}}},
    },
    "303": {"description": "to /login without a session"},
    "404": {"description": "no such scorecard", "content": _TEXT},
    "409": {"description": "no proposal (e.g. too few outcomes): the reason", "content": _TEXT},
    "422": {"description": "an invalid path: the error page", "content": {"text/html": {"schema": {"type": "string"}}}},
    "502": {
        "description": "health did not answer: the error page",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}


@router.get("/scores/{scorecard}/proposal.yaml", openapi_extra={"x-answers": PROPOSAL_ANSWERS})
async def proposal(scorecard: str, ctx: SignedIn) -> Response:
    try:
        text = await ctx.backend.weights_proposal(scorecard)
    except BackendRefused as exc:
        return PlainTextResponse(exc.message, status_code=exc.status if 400 <= exc.status < 500 else 409)
    if text is None:
        return PlainTextResponse(f"no scorecard named {scorecard!r}", status_code=404)
    filename = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in scorecard)
    return PlainTextResponse(
        text,
        media_type="application/yaml",
        headers={"content-disposition": f'attachment; filename="{filename}-proposal.yaml"'},
    )
