"""Newsletters over HTTP (bearer token): send one to a segment, under the playbooks' message cap."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from touchline.shared import topics
from touchline.shared.api_errors import error_responses, refuse_nul
from touchline.shared.messages import Command
from touchline.shared.runtime import Runtime, require_token
from touchline.shared.settings import CommonSettings
from touchline.shared.unit_of_work import unit_of_work

from .adapters import pg_segments
from .adapters.postgres import PgRepository
from .domain.newsletters import Item, Newsletter
from .domain.segments import Segment
from .flows import Flows
from .newsletters import send_newsletter
from .webinars_api import SegmentBody, Text


class ItemBody(BaseModel):
    title: Text = Field(min_length=1, max_length=200)
    url: Text = Field(pattern=r"^https?://\S+$", max_length=2000, description="an http(s) URL; tracked in the mail")


class NewsletterBody(BaseModel):
    title: Text = Field(min_length=1, max_length=200)
    intro: Text = Field("", max_length=5000)
    items: list[ItemBody] = Field(min_length=1, max_length=20)
    segment: SegmentBody = Field(default_factory=SegmentBody)


def router(
    *, get_runtime: Callable[[], Runtime], get_flows: Callable[[], Flows], get_common: Callable[[], CommonSettings]
) -> APIRouter:
    api = APIRouter(
        prefix="/v1/newsletters",
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        tags=["newsletters"],
        responses=error_responses(401, 422),
    )

    @api.post("", responses=error_responses(400))
    async def send(body: NewsletterBody) -> dict[str, Any]:
        """One mail per account of the segment (to its contacts); an account whose message cap is
        full is skipped and listed with the time it has room again."""
        runtime, flows = get_runtime(), get_flows()
        newsletter = Newsletter(
            id=uuid.uuid4().hex,
            title=body.title,
            intro=body.intro,
            items=tuple(Item(i.title, i.url) for i in body.items),
            segment=Segment(
                tiers=tuple(dict.fromkeys(body.segment.tiers)), phases=tuple(dict.fromkeys(body.segment.phases))
            ),
        )
        async with runtime.engine.connect() as conn:
            accounts = await pg_segments.segment_accounts(conn, newsletter.segment)
        sent: list[str] = []
        capped: list[dict[str, Any]] = []
        now = runtime.clock.now()
        for account_id in accounts:
            # One transaction per account: it holds only that account's lock, as the consumer does.
            async with unit_of_work(runtime.engine, runtime.publisher) as uow:
                done = await send_newsletter(flows, PgRepository(uow.conn), newsletter, account_id, now=now)
                if isinstance(done, Command):
                    uow.emit(topics.COMMANDS, [done])
                    sent.append(account_id)
                else:
                    capped.append({"account_id": account_id, "until": done})
        return {"newsletter_id": newsletter.id, "sent": sent, "capped": capped}

    return api
