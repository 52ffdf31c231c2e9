"""Milestones (bearer token): releases and trainings, with NPS before and after each.

``POST /v1/milestones`` ``{kind: release|training, title, occurred_at, account_id?, created_by?}`` →
201 (a CSM adding one; products report them as Segment ``track`` events "Release Published" /
"Training Completed", see docs/ingest.md). ``GET /v1/milestones?since=&until=&account_id=&limit=`` →
``{"milestones": [...], "window_days": 30}`` newest first, each with ``nps``: the NPS of the 30 days
before and after it (latest answer per account; an account's milestone counts that account only).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, field_validator

from touchline.shared.api_errors import error_responses, field_error, refuse_nul

from ..adapters import pg_milestones
from ..adapters.pg_answers import AnswerFilter, list_answers
from ..domain.milestones import WINDOW, Milestone, Score, around
from ..state import StateDep
from .answers import BadQuery, parse_instant

router = APIRouter(tags=["feedback"], dependencies=[Depends(refuse_nul)], responses=error_responses(401, 422))
# A milestone's time, and so its NPS windows, stay far from the ends of the calendar.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class NewMilestone(BaseModel):
    kind: Literal["release", "training"]
    title: str = Field(min_length=1, max_length=200)
    occurred_at: datetime
    account_id: str | None = Field(None, min_length=1, max_length=200)
    created_by: str | None = Field(None, max_length=320)

    @field_validator("occurred_at")
    @classmethod
    def _zoned(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-01-31T00:00Z)")
        if not EARLIEST <= value <= LATEST:
            raise ValueError(f"must lie between {EARLIEST.date()} and {LATEST.date()}")
        return value


def milestone_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "title": row["title"],
        "account_id": row["account_id"],
        "occurred_at": row["occurred_at"].isoformat(),
        "source": row["source"],
        "created_by": row["created_by"],
    }


def _milestone(row: Mapping[str, Any]) -> Milestone:
    return Milestone(row["id"], row["kind"], row["title"], row["occurred_at"], row["account_id"], row["source"])


@router.post("/v1/milestones", status_code=201, responses=error_responses(400))
async def add_milestone(body: NewMilestone, state: StateDep) -> dict[str, Any]:
    milestone = Milestone(
        id=f"csm:{uuid.uuid4()}",
        kind=body.kind,
        title=body.title.strip(),
        occurred_at=body.occurred_at,
        account_id=(body.account_id or "").strip() or None,
        source="csm",
        created_by=body.created_by,
    )

    async def work(conn: Any) -> None:
        await pg_milestones.insert_milestone(conn, milestone, now=state.now())

    await state.write(work, wake=())
    return milestone_view(milestone.__dict__)


@router.get("/v1/milestones")
async def milestones(
    state: StateDep,
    since: str | None = None,
    until: str | None = None,
    account_id: str | None = None,
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    try:
        start, end = parse_instant("since", since), parse_instant("until", until)
    except BadQuery as exc:
        name, _, message = str(exc).partition(": ")
        raise field_error("query", name, message) from None
    account = (account_id or "").strip() or None
    async with state.engine.connect() as conn:
        rows = await pg_milestones.list_milestones(conn, since=start, until=end, account_id=account, limit=limit)
        scores: list[Score] = []
        if rows:
            # Rows stored before the range check (or by a product's event) may lie anywhere.
            first = max(min(r["occurred_at"] for r in rows), EARLIEST) - WINDOW
            last = min(max(r["occurred_at"] for r in rows), LATEST) + WINDOW
            where = AnswerFilter(survey="nps", account_id=account, since=first, until=last)
            answers, _ = await list_answers(conn, where, limit=100_000, offset=0)
            for a in answers:
                score = (a["answer"] or {}).get("score")
                if isinstance(score, int) and not isinstance(score, bool):
                    scores.append(Score(a["account_id"], a["answered_at"], score))
    out = []
    for row in rows:
        nps = around(_milestone(row), scores)
        out.append(
            {
                **milestone_view(row),
                "nps": {"before": nps.before, "after": nps.after, "change": nps.change,
                        "answers_before": nps.answers_before, "answers_after": nps.answers_after},
            }
        )  # fmt: skip
    return {"milestones": out, "window_days": WINDOW.days}
