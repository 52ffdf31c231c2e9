"""The in-app API the product's front end (or widget.js) calls for its signed-in user.

Identity: ``X-Touchline-User`` + ``X-Touchline-User-Token`` (hex HMAC-SHA256(inapp_secret, user id),
computed by the product's back end), or ``?user=&token=`` for EventSource, which cannot set headers.
Every query is scoped to that user: another user's message id answers 404, exactly like a missing one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.api_errors import error_responses, field_error, refuse_nul

from ..adapters import pg_inapp
from ..adapters.pg_repository import PgRepository
from ..answers import answer_in_app
from ..domain.surveys import BadAnswer, NotOffered, normalise_answer
from ..domain.tokens import verify_user_token
from ..engagement import record_inapp_event
from ..inbox import eligible_messages
from ..state import NotifyState, StateDep
from ..streams import StreamHub
from .schemas import InAppEventRecorded, InAppMessages

router = APIRouter(
    prefix="/v1/inapp", tags=["in-app"], dependencies=[Depends(refuse_nul)], responses=error_responses(401, 422)
)
HEARTBEAT_SECONDS = 15.0


def current_user(request: Request, state: StateDep) -> str:
    user = request.headers.get("x-touchline-user") or request.query_params.get("user") or ""
    token = request.headers.get("x-touchline-user-token") or request.query_params.get("token") or ""
    if not verify_user_token(state.settings.inapp_secret.get_secret_value(), user_id=user, token=token):
        raise HTTPException(401, "X-Touchline-User / X-Touchline-User-Token missing or not signed for this user")
    return user


UserDep = Annotated[str, Depends(current_user)]


async def eligible_now(state: NotifyState, user_id: str) -> list[dict[str, Any]]:
    """Decide what the user may see, mark first showings (they count against the cap) and report them."""
    window = timedelta(hours=state.settings.inapp_cap_hours)

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        found = await eligible_messages(
            PgRepository(conn), [user_id], now=state.now(), cap_count=state.settings.inapp_cap_count, cap_window=window
        )
        return found.get(user_id, [])

    result: list[dict[str, Any]] = await state.write(work)
    return result


@router.get("/messages", response_model=InAppMessages)
async def list_messages(user_id: UserDep, state: StateDep) -> dict[str, Any]:
    return {"user_id": user_id, "messages": await eligible_now(state, user_id)}


def sse_message(message: dict[str, Any]) -> str:
    return f"id: {message['id']}\nevent: message\ndata: {json.dumps(message, ensure_ascii=False)}\n\n"


async def sse_events(hub: StreamHub, user_id: str, *, heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[str]:
    """The stream of one connection: fed by the process's watcher, never by a query of its own."""
    subscription = hub.subscribe(user_id)
    try:
        yield "retry: 3000\n\n"
        while True:
            try:
                message = await asyncio.wait_for(subscription.queue.get(), heartbeat)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if message is None or subscription.dropped:
                return  # dropped (too slow) or shutting down: the widget reconnects
            yield sse_message(message)
    finally:
        hub.unsubscribe(subscription)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def stream(user_id: UserDep, state: StateDep) -> StreamingResponse:
    """Server-sent events: ``event: message`` with one message as JSON whenever a new one is eligible."""
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(sse_events(state.hub, user_id), media_type="text/event-stream", headers=headers)


class InAppEvent(BaseModel):
    type: Literal["seen", "dismissed", "clicked", "answered"]
    answer: dict[str, Any] | None = None


@router.post("/messages/{message_id}/events", response_model=InAppEventRecorded, responses=error_responses(400, 404))
async def post_event(message_id: str, event: InAppEvent, user_id: UserDep, state: StateDep) -> dict[str, Any]:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await pg_inapp.get_message(conn, message_id, user_id=user_id)
        if row is None:
            raise HTTPException(404, f"no message {message_id} for this user")
        now = state.now()
        if event.type == "answered":
            if not row["survey"]:
                raise field_error("body", "type", "this message is not a survey; it cannot be answered")
            try:
                answer = normalise_answer(event.answer, expected=row["survey"])
                recorded = await answer_in_app(PgRepository(conn), row, answer, now=now)
                return {"ok": True, "recorded": recorded is not None}
            except NotOffered as exc:
                raise HTTPException(400, str(exc)) from None
            except BadAnswer as exc:
                raise field_error("body", "answer", str(exc)) from None
        first = await record_inapp_event(PgRepository(conn), row, event=event.type, now=now)
        return {"ok": True, "recorded": first}

    result: dict[str, Any] = await state.write(work)
    return result
