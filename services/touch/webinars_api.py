"""Webinars over HTTP (bearer token): create one for a segment, read it, invite the segment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from touchline.shared import topics
from touchline.shared.api_errors import error_responses, refuse_nul
from touchline.shared.runtime import Runtime, require_token
from touchline.shared.settings import CommonSettings
from touchline.shared.unit_of_work import unit_of_work

from .adapters import pg_segments, pg_webinars
from .domain.segments import Segment
from .domain.webinars import Webinar, invitation


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")  # Postgres text cannot hold it
    return value


# Text that ends up in Postgres (touch's webinars, notify's mails): no NUL, named in a 422.
Text = Annotated[str, AfterValidator(_no_nul)]
Tier = Literal["high", "low", "tech"]
Phase = Literal["onboarding", "adoption", "retention", "renewal", "churned"]


class SegmentBody(BaseModel):
    tiers: list[Tier] = Field(default_factory=list, description="current touch tiers invited (empty: any)")
    phases: list[Phase] = Field(default_factory=list, description="current lifecycle phases invited (empty: any)")


class WebinarBody(BaseModel):
    title: Text = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime = Field(description="with its UTC offset")
    capacity: int = Field(ge=1, le=100_000, description="seats; RSVPs beyond it are refused")
    segment: SegmentBody = Field(default_factory=SegmentBody)


def webinar_view(w: Webinar) -> dict[str, Any]:
    return {
        "id": w.id,
        "title": w.title,
        "starts_at": w.starts_at,
        "capacity": w.capacity,
        "segment": {"tiers": list(w.segment.tiers), "phases": list(w.segment.phases)},
        "created_at": w.created_at,
    }


def router(*, get_runtime: Callable[[], Runtime], get_common: Callable[[], CommonSettings]) -> APIRouter:
    api = APIRouter(
        prefix="/v1/webinars",
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        tags=["webinars"],
        responses=error_responses(401, 422),
    )

    @api.post("", status_code=201, responses=error_responses(400))
    async def create(body: WebinarBody) -> dict[str, Any]:
        runtime = get_runtime()
        webinar = Webinar(
            id=uuid.uuid4().hex,
            title=body.title,
            starts_at=body.starts_at.astimezone(UTC),
            capacity=body.capacity,
            segment=Segment(
                tiers=tuple(dict.fromkeys(body.segment.tiers)), phases=tuple(dict.fromkeys(body.segment.phases))
            ),
            created_at=runtime.clock.now(),
        )
        async with runtime.engine.begin() as conn:
            await pg_webinars.insert_webinar(conn, webinar)
        return webinar_view(webinar)

    @api.get("/{webinar_id}", responses=error_responses(404))
    async def read(webinar_id: str) -> dict[str, Any]:
        async with get_runtime().engine.connect() as conn:
            found = await pg_webinars.get_webinar(conn, webinar_id)
        if found is None:
            raise HTTPException(404, f"webinar {webinar_id!r} not found")
        return webinar_view(found)

    @api.post("/{webinar_id}/invite", responses=error_responses(404, 409))
    async def invite(webinar_id: str) -> dict[str, Any]:
        """One invitation per account of the segment, to its admins; inviting again re-sends nothing
        (the command ids are the webinar's and the account's) and reaches accounts new to the segment."""
        runtime = get_runtime()
        now = runtime.clock.now()
        async with unit_of_work(runtime.engine, runtime.publisher) as uow:
            webinar = await pg_webinars.get_webinar(uow.conn, webinar_id)
            if webinar is None:
                raise HTTPException(404, f"webinar {webinar_id!r} not found")
            if webinar.starts_at <= now:
                raise HTTPException(409, f"webinar {webinar_id!r} started at {webinar.starts_at.isoformat()}")
            accounts = await pg_segments.segment_accounts(uow.conn, webinar.segment)
            uow.emit(topics.COMMANDS, [invitation(webinar, a, at=now) for a in accounts])
        return {"webinar_id": webinar_id, "invited": accounts}

    return api
