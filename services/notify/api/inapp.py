"""The in-app API the product's front end (or widget.js) calls for its signed-in user.

Identity: ``X-Touchline-User`` + ``X-Touchline-User-Token`` (hex HMAC-SHA256(inapp_secret, user id),
computed by the product's back end), or ``?user=&token=`` for EventSource, which cannot set headers.
Every query is scoped to that user: another user's message id answers 404, exactly like a missing one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import pg_inapp
from ..adapters import postgres as pg
from ..domain.inapp import InboxItem, eligible
from ..domain.outcomes import answer_digest, outcome_for
from ..domain.surveys import BadAnswer, normalise_answer
from ..domain.tokens import verify_user_token
from ..state import NotifyState, StateDep

router = APIRouter(prefix="/v1/inapp", tags=["in-app"])
HEARTBEAT_SECONDS = 15.0


def current_user(request: Request, state: StateDep) -> str:
    user = request.headers.get("x-touchline-user") or request.query_params.get("user") or ""
    token = request.headers.get("x-touchline-user-token") or request.query_params.get("token") or ""
    if not verify_user_token(state.settings.inapp_secret.get_secret_value(), user_id=user, token=token):
        raise HTTPException(401, "X-Touchline-User / X-Touchline-User-Token missing or not signed for this user")
    return user


UserDep = Annotated[str, Depends(current_user)]


def view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "survey": row["survey"],
        "template": row["template"],
        "locale": row["locale"],
        "title": row["title"],
        "body": row["body"],
        "question": row["question"],
        "choices": row["choices"],
        "cta": {"label": row["cta_label"], "url": row["cta_url"]} if row["cta_url"] else None,
        "created_at": row["created_at"].isoformat(),
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
    }


async def eligible_now(state: NotifyState, user_id: str) -> list[dict[str, Any]]:
    """Decide what the user may see, mark first showings (they count against the cap) and report them."""
    window = timedelta(hours=state.settings.inapp_cap_hours)

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        now = state.now()
        rows = {r["id"]: r for r in await pg_inapp.user_messages(conn, user_id, since=now - window)}
        items = [
            InboxItem(
                r["id"],
                r["kind"],
                r["created_at"],
                r["expires_at"],
                r["shown_at"],
                bool(r["dismissed_at"] or r["answered_at"]),
            )
            for r in rows.values()
        ]
        decision = eligible(items, now=now, cap_count=state.settings.inapp_cap_count, cap_window=window)
        shown = await pg_inapp.mark_shown(conn, decision.newly_shown, now=now)
        await pg.add_outcomes(conn, [outcome_for(r, kind="inapp.shown", occurrence="shown", now=now) for r in shown])
        return [view(rows[i]) for i in decision.show]

    result: list[dict[str, Any]] = await state.write(work)
    return result


@router.get("/messages")
async def list_messages(user_id: UserDep, state: StateDep) -> dict[str, Any]:
    return {"user_id": user_id, "messages": await eligible_now(state, user_id)}


@router.get("/stream")
async def stream(request: Request, user_id: UserDep, state: StateDep) -> StreamingResponse:
    """Server-sent events: ``event: message`` with one message as JSON whenever a new one is eligible."""

    async def events() -> AsyncIterator[str]:
        sent: set[str] = set()
        idle = 0.0
        yield "retry: 3000\n\n"
        while not state.stopping() and not await request.is_disconnected():
            for message in await eligible_now(state, user_id):
                if message["id"] not in sent:
                    sent.add(message["id"])
                    yield f"id: {message['id']}\nevent: message\ndata: {json.dumps(message, ensure_ascii=False)}\n\n"
                    idle = 0.0
            await asyncio.sleep(state.settings.poll_seconds)
            idle += state.settings.poll_seconds
            if idle >= HEARTBEAT_SECONDS:
                idle = 0.0
                yield ": keep-alive\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


class InAppEvent(BaseModel):
    type: Literal["seen", "dismissed", "clicked", "answered"]
    answer: dict[str, Any] | None = None


@router.post("/messages/{message_id}/events")
async def post_event(message_id: str, event: InAppEvent, user_id: UserDep, state: StateDep) -> dict[str, Any]:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await pg_inapp.get_message(conn, message_id, user_id=user_id)
        if row is None:
            raise HTTPException(404, f"no message {message_id} for this user")
        answer = None
        if event.type == "answered":
            if not row["survey"]:
                raise HTTPException(422, "type: this message is not a survey; it cannot be answered")
            try:
                answer = normalise_answer(event.answer, expected=row["survey"])
            except BadAnswer as exc:
                raise HTTPException(422, str(exc)) from None
        now = state.now()
        first = await pg_inapp.record_event(conn, message_id, event=event.type, now=now, answer=answer)
        if first:
            occurrence = event.type if answer is None else f"answered-{answer_digest(answer)}"
            await pg.add_outcomes(
                conn, [outcome_for(row, kind=f"inapp.{event.type}", occurrence=occurrence, now=now, answer=answer)]
            )
        return {"ok": True, "recorded": first}

    result: dict[str, Any] = await state.write(work)
    return result
