"""One-click survey answers from a mail, and the "why?" follow-up its thank-you page asks.

``GET /t/a/{token}`` records the signed answer (that is what "one click" means to the recipient) and
shows a thank-you page. When the survey asks more than one question (a score and "why?") and the
answer lacks the follow-up, the page asks it: its form posts ``comment`` to ``POST /t/a/{token}``,
which records the link's answer together with the comment — the complete answer. A link scanner
that follows every link could answer too, so a later different answer replaces it (each one is
published as its own outcome).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.api_errors import error_responses

from ..adapters.pg_repository import PgRepository
from ..answers import answer_email
from ..domain.surveys import PARTIAL, BadAnswer, normalise_answer
from ..state import NotifyState, StateDep
from .tracking import NO_STORE, claim_of, delivery_of, page, record_open

# A forged, altered or unknown token is a 404, exactly like a link that never existed.
router = APIRouter(tags=["tracking"], responses=error_responses(404))
FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"comment": {"type": "string", "maxLength": 5000}}}
            }
        }
    }
}
THANKS = {
    "en": ("Thank you", "Your answer has been recorded."),
    "ja": ("ありがとうございました", "ご回答を受け付けました。"),
}
FOLLOW_UP = {
    "en": ("Would you tell us why?", "Send"),
    "ja": ("よろしければ、その理由をお聞かせください。", "送信"),
}
MAX_FORM_BYTES = 64 * 1024


def thanks_page(locale: str, current: Mapping[str, Any] | None) -> str:
    """The thank-you page; it asks the follow-up while the current answer still lacks it."""
    locale = locale if locale in THANKS else "en"
    title, text = THANKS[locale]
    body = f"<p>{html.escape(text)}</p>"
    if current and current.get(PARTIAL) and "comment" not in current:
        question, button = FOLLOW_UP[locale]
        body += (
            f'<form method="post"><p><label for="comment">{html.escape(question)}</label></p>'
            '<p><textarea id="comment" name="comment" rows="4" maxlength="5000" style="width:100%"></textarea></p>'
            f'<p><button type="submit">{html.escape(button)}</button></p></form>'
        )
    return page(title, body, locale=locale)


async def _record(state: NotifyState, token: str, given: Mapping[str, Any]) -> HTMLResponse:
    claim = claim_of(state, token, "answer")

    async def work(conn: AsyncConnection) -> tuple[str, dict[str, Any] | None]:
        row = await delivery_of(conn, claim)
        await record_open(conn, state, row, human=True)
        recorded = await answer_email(PgRepository(conn), str(row["id"]), given, now=state.now())
        current = (recorded[1] or dict(recorded[0]["answer"] or {})) if recorded else None
        return str(row["locale"]), current

    locale, current = await state.write(work)
    return HTMLResponse(thanks_page(locale, current), headers=NO_STORE)


@router.get("/t/a/{token}", response_class=HTMLResponse)
async def answer(token: str, state: StateDep) -> HTMLResponse:
    claim = claim_of(state, token, "answer")
    return await _record(state, token, claim.answer or {})


@router.post(
    "/t/a/{token}",
    response_class=HTMLResponse,
    openapi_extra=FORM,
    responses={
        **error_responses(400),
        413: {**error_responses(400)[400], "description": "the form is larger than 64 KiB"},
    },
)
async def answer_follow_up(token: str, request: Request, state: StateDep) -> HTMLResponse:
    """The thank-you page's form: the link's answer plus the comment (form field ``comment``)."""
    claim = claim_of(state, token, "answer")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "comment: the form is larger than 64 KiB")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(400, "comment: the form is not UTF-8") from None
    comment = (fields.get("comment") or [""])[0]
    try:
        given = normalise_answer({**(claim.answer or {}), "comment": comment})
    except BadAnswer as exc:
        raise HTTPException(400, str(exc)) from None
    return await _record(state, token, given)
