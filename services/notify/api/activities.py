"""Activities a CSM logs on an account (bearer token = TOUCHLINE_API_TOKEN): stored next to the tasks,
published as ``activity.logged`` outcomes, shown on the account timeline."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.api_errors import error_responses, field_error, refuse_nul
from touchline.shared.contact import activity_reached_customer

from ..adapters import pg_activities
from ..adapters import postgres as pg
from ..domain import activities as rules
from ..state import StateDep
from .schemas import Activities, Activity

router = APIRouter(tags=["activities"], dependencies=[Depends(refuse_nul)], responses=error_responses(401, 422))


class LogActivity(BaseModel):
    id: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
        description="makes a retry safe: the same id logs nothing new and answers the stored activity (200)",
    )  # fmt: skip
    kind: str = Field(description="call, meeting, email or note")
    contact: str | None = Field(None, description="the person spoken to or tried; needed except on a note")
    occurred_at: str = Field(description="a date (2027-01-10) or a time with its zone; not in the future")
    outcome: str = Field(description="what happened")
    reached: StrictBool | None = Field(None, description="did it reach the customer; needed except on a note")
    relationship: StrictInt | None = Field(None, description="1-5, only on contact that reached the customer")
    csm: str = Field(description="who logged it (the console sends the signed-in person)")


def activity_view(row: Mapping[str, Any]) -> dict[str, Any]:
    view = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    view["contact_counted"] = activity_reached_customer(kind=row["kind"], reached=row["reached"])
    return view


@router.post(
    "/v1/accounts/{account_id}/activities",
    status_code=201,
    response_model=Activity,
    responses={200: {"description": "a retry with the same id: the activity it logged"}} | error_responses(400, 409),
)
async def log_activity(account_id: str, body: LogActivity, state: StateDep, response: Response) -> dict[str, Any]:
    now = state.now()
    try:
        activity = rules.validate(**body.model_dump(exclude={"id"}), now=now)
    except rules.InvalidActivity as exc:
        raise field_error("body", exc.field, exc.message) from None
    row = rules.row_of(activity, activity_id=body.id or str(uuid.uuid4()), account_id=account_id, now=now)

    async def work(conn: AsyncConnection) -> tuple[dict[str, Any], bool]:
        stored = await pg_activities.insert_activity(conn, row)
        if stored is not None:
            await pg.add_outcomes(conn, [rules.outcome_of(stored)])
            return stored, False
        earlier = await pg_activities.get_activity(conn, row["id"])
        if earlier is None or not rules.same_activity(earlier, row):
            raise HTTPException(409, f"activity {row['id']} was logged with other values: use a new id")
        return earlier, True

    stored, replayed = await state.write(work, wake=("outcomes",))
    if replayed:
        response.status_code = 200
    return activity_view(stored)


@router.get("/v1/accounts/{account_id}/activities", response_model=Activities)
async def list_activities(account_id: str, state: StateDep, limit: int = Query(200, ge=1, le=2000)) -> dict[str, Any]:
    async with state.engine.connect() as conn:
        rows = await pg_activities.account_activities(conn, account_id, limit=limit)
    return {"account_id": account_id, "activities": [activity_view(r) for r in rows]}
