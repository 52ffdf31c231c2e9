"""Open pixel and click redirect: signed per delivery, forged ones get 404 (answers: ``mail_answers``)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.api_errors import error_responses

from .. import engagement
from ..adapters import postgres as pg
from ..adapters.pg_repository import PgRepository
from ..domain.tokens import BadToken, LinkClaim, LinkKind, verify_link
from ..state import NotifyState, StateDep

# A forged, altered or unknown token is a 404, exactly like a link that never existed.
router = APIRouter(tags=["tracking"], responses=error_responses(404))
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0"}


def claim_of(state: NotifyState, token: str, kind: LinkKind) -> LinkClaim:
    try:
        return verify_link(state.settings.link_secret.get_secret_value(), token, kind=kind)
    except BadToken:
        raise HTTPException(404, "no such link") from None


async def delivery_of(conn: AsyncConnection, claim: LinkClaim) -> Mapping[str, Any]:
    row = await pg.get_delivery(conn, claim.delivery_id)
    if row is None:
        raise HTTPException(404, "no such link")
    return row


async def record_open(conn: AsyncConnection, state: NotifyState, row: Mapping[str, Any], *, human: bool) -> None:
    await engagement.record_open(
        PgRepository(conn), row, now=state.now(), human=human, machine_within=state.settings.machine_open_seconds
    )


@router.get(
    "/t/o/{token}.gif",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}, "description": "a 1x1 transparent GIF"}},
)
async def open_pixel(token: str, state: StateDep) -> Response:
    claim = claim_of(state, token, "open")

    async def work(conn: AsyncConnection) -> None:
        await record_open(conn, state, await delivery_of(conn, claim), human=False)

    await state.write(work)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get(
    "/t/c/{token}",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "to the link's URL (signed in the token)"}},
)
async def click(token: str, state: StateDep) -> Response:
    claim = claim_of(state, token, "click")
    if not claim.url or not claim.url.startswith(("http://", "https://")):
        raise HTTPException(404, "no such link")

    async def work(conn: AsyncConnection) -> None:
        row = await delivery_of(conn, claim)
        now = state.now()
        # A click proves a person read the mail, whatever the pixel said.
        await record_open(conn, state, row, human=True)
        await engagement.record_click(PgRepository(conn), row, now=now, index=claim.index, url=claim.url)

    await state.write(work)
    return RedirectResponse(claim.url, status_code=302, headers=NO_STORE)


def page(title: str, body: str, *, locale: str) -> str:
    return (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width"></head>'
        f'<body style="font-family:sans-serif;max-width:560px;margin:3em auto"><h1>{html.escape(title)}</h1>{body}</body></html>'
    )
