"""Theme subscriptions (bearer token): a team hears of every new comment on a feedback theme, and gets
a weekly digest of it, at a webhook signed per Standard Webhooks or at a Slack incoming webhook.

``POST /v1/theme-subscriptions`` ``{theme, team, kind: standard|slack, url}`` → 201 with the
subscription; a ``standard`` one also carries its ``secret`` (``whsec_...``), shown this once, which
the receiver verifies ``webhook-signature`` with. ``GET /v1/theme-subscriptions?theme=`` lists them
(never the secret); ``DELETE /v1/theme-subscriptions/{id}`` stops them (204), including what is still
queued.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from touchline.shared.api_errors import error_responses, field_error, refuse_nul

from ..adapters import pg_routing
from ..delivery import wall_now
from ..domain.routing import Subscription, subscription_endpoint_id
from ..state import StateDep

router = APIRouter(tags=["feedback"], dependencies=[Depends(refuse_nul)], responses=error_responses(401, 422))


class NewSubscription(BaseModel):
    theme: str = Field(min_length=1, max_length=100)
    team: str = Field(min_length=1, max_length=200)
    kind: Literal["standard", "slack"] = "standard"
    url: str = Field(min_length=1, max_length=2000)


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise field_error(
            "body", "url", "expected an http(s) URL with a host, e.g. https://hooks.example.com/touchline"
        )
    return url.strip()


def subscription_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "theme": row["theme"],
        "team": row["team"],
        "kind": row["kind"],
        "url": row["url"],
        "created_at": row["created_at"].isoformat(),
        "disabled": row.get("disabled_reason"),
    }


@router.post("/v1/theme-subscriptions", status_code=201, responses=error_responses(400))
async def subscribe(body: NewSubscription, request: Request, state: StateDep) -> dict[str, Any]:
    catalogue = request.app.state.themes
    theme = body.theme.strip()
    if theme not in catalogue:
        raise field_error("body", "theme", f"unknown theme {theme!r}; known: {', '.join(catalogue)}")
    url = check_url(body.url)
    subscription_id = str(uuid.uuid4())
    subscription = Subscription(
        id=subscription_id,
        theme=theme,
        team=body.team.strip(),
        kind=body.kind,
        endpoint_id=subscription_endpoint_id(subscription_id),
        created_at=state.now(),
    )
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode() if body.kind == "standard" else None

    async def work(conn: Any) -> None:
        await pg_routing.create_subscription(conn, subscription, url=url, secret=secret, wall_now=wall_now())

    await state.write(work, wake=())
    view = subscription_view({**subscription.__dict__, "url": url})
    if secret is not None:
        view["secret"] = secret
    return view


@router.get("/v1/theme-subscriptions")
async def subscriptions(state: StateDep, theme: str | None = None) -> dict[str, Any]:
    async with state.engine.connect() as conn:
        rows = await pg_routing.list_subscriptions(conn, theme=(theme or "").strip() or None)
    return {"subscriptions": [subscription_view(r) for r in rows]}


@router.delete("/v1/theme-subscriptions/{subscription_id}", status_code=204, responses=error_responses(404))
async def unsubscribe(subscription_id: str, state: StateDep) -> Response:
    now: datetime = state.now()

    async def work(conn: Any) -> bool:
        return await pg_routing.delete_subscription(conn, subscription_id, now=now, wall_now=wall_now())

    if not await state.write(work, wake=("webhooks",)):
        raise HTTPException(404, f"no subscription {subscription_id}")
    return Response(status_code=204)
