"""Webinar RSVPs: the invitation's signed link (``GET /t/r/{token}``) and the list of seats taken.

Following the link is the RSVP (one click, like a survey answer): it takes one seat for the mail's
address, shows the same "you are registered" page when followed again, and a clear "this webinar
is full" page (409) once the seats signed into the link are taken. It also counts as a person's
open of the invitation.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.api_errors import error_responses, refuse_nul

from ..adapters import pg_webinars
from ..domain.webinars import Verdict, decide_rsvp
from ..state import StateDep
from .tracking import NO_STORE, claim_of, delivery_of, page, record_open

links = APIRouter(tags=["tracking"], responses=error_responses(404))
router = APIRouter(tags=["webinars"], dependencies=[Depends(refuse_nul)], responses=error_responses(401, 422))

TEXT: dict[str, dict[Verdict, tuple[str, str]]] = {
    "en": {
        "registered": ("You are registered", "We have saved your seat. {email} will get the joining details."),
        "already": ("You are registered", "Your seat is already saved for {email}."),
        "full": ("This webinar is full", "Sorry: every seat is taken. We will let you know about the next one."),
    },
    "ja": {
        "registered": ("参加登録が完了しました", "お席を確保しました。参加方法を {email} にお送りします。"),
        "already": ("参加登録済みです", "{email} のお席はすでに確保されています。"),
        "full": ("満席になりました", "申し訳ありません、すべてのお席が埋まりました。次回のご案内をお送りします。"),
    },
}


@links.get(
    "/t/r/{token}",
    response_class=HTMLResponse,
    responses={409: {"description": "the webinar is full (an HTML page saying so)", "content": {"text/html": {}}}},
)
async def rsvp(token: str, state: StateDep) -> HTMLResponse:
    claim = claim_of(state, token, "rsvp")
    seats = claim.answer or {}
    webinar_id, capacity = str(seats.get("webinar")), int(seats.get("capacity") or 0)

    async def work(conn: AsyncConnection) -> tuple[str, str, Verdict]:
        row = await delivery_of(conn, claim)
        await record_open(conn, state, row, human=True)
        await pg_webinars.lock_seats(conn, webinar_id)
        verdict = decide_rsvp(await pg_webinars.seats(conn, webinar_id, email=row["email"]), capacity=capacity)
        if verdict == "registered":
            await pg_webinars.add_rsvp(conn, webinar_id, row, now=state.now())
        return str(row["locale"]), str(row["email"]), verdict

    locale, email, verdict = await state.write(work)
    title, text = TEXT.get(locale, TEXT["en"])[verdict]
    body = f"<p>{html.escape(text).format(email=html.escape(email))}</p>"
    return HTMLResponse(
        page(title, body, locale=locale if locale in TEXT else "en"),
        status_code=409 if verdict == "full" else 200,
        headers=NO_STORE,
    )


@router.get("/v1/webinars/{webinar_id}/rsvps")
async def list_rsvps(webinar_id: str, state: StateDep) -> dict[str, Any]:
    """The seats taken (an unknown webinar has none: touch owns webinars, notify only their RSVPs)."""
    async with state.engine.connect() as conn:
        found = await pg_webinars.rsvps(conn, webinar_id)
    return {"webinar_id": webinar_id, "count": len(found), "rsvps": found}
