"""RFC 8058 one-click unsubscribe (POST) and the page a person sees when they follow the link (GET)."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.api_errors import error_responses

from .. import engagement
from ..adapters.pg_repository import PgRepository
from ..state import StateDep
from .tracking import NO_STORE, claim_of, delivery_of, page

router = APIRouter(tags=["unsubscribe"], responses=error_responses(404))
TEXT = {
    "en": (
        "Unsubscribe",
        "Stop receiving these emails at {email}?",
        "Unsubscribe",
        "You are unsubscribed. {email} will receive no more of these emails.",
    ),
    "ja": (
        "配信停止",
        "{email} へのメール配信を停止しますか？",
        "配信を停止する",
        "配信を停止しました。{email} には今後このようなメールは届きません。",
    ),
}


@router.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str, state: StateDep) -> HTMLResponse:
    claim = claim_of(state, token, "unsubscribe")
    async with state.engine.connect() as conn:
        row = await delivery_of(conn, claim)
    locale = row["locale"] if row["locale"] in TEXT else "en"
    title, question, button, _ = TEXT[locale]
    email = html.escape(row["email"])
    form = f'<p>{question.format(email=email)}</p><form method="post"><button type="submit">{button}</button></form>'
    return HTMLResponse(page(title, form, locale=locale), headers=NO_STORE)


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, state: StateDep) -> HTMLResponse:
    """Mail clients POST ``List-Unsubscribe=One-Click``; the page's button posts an empty form. Both count."""
    claim = claim_of(state, token, "unsubscribe")

    async def work(conn: AsyncConnection) -> tuple[str, str]:
        row = await delivery_of(conn, claim)
        now = state.now()
        await engagement.unsubscribe(PgRepository(conn), row, now=now)
        return str(row["locale"]), str(row["email"])

    locale, email = await state.write(work)
    title, _, _, done = TEXT.get(locale, TEXT["en"])
    return HTMLResponse(page(title, f"<p>{done.format(email=html.escape(email))}</p>", locale=locale), headers=NO_STORE)
