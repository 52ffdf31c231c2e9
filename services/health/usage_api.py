"""Product usage before and after an instant, for the feedback page's milestones (a release is
product-wide, a training one account's): ``GET /v1/usage/around?at=&days=30&account_id=``.

The measure and the rule are domain.usage's; this module parses, reads the window, shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from touchline.shared.api_errors import error_responses, field_error, refuse_nul
from touchline.shared.runtime import require_token
from touchline.shared.settings import CommonSettings

from .adapters import queries
from .api import ApiDeps
from .domain.usage import MAX_DAYS, USAGE_MEASURE, UsageSide, usage_around

# The calendar milestones live on (notify refuses others): at ± MAX_DAYS never leaves Python's or
# Postgres' range.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class UsageSideOut(BaseModel):
    mean: float | None  # None: no data on this side
    accounts: int
    rows: int  # account-days behind the mean


class UsageAroundOut(BaseModel):
    measure: str
    at: datetime
    days: int
    account_id: str | None  # None: every account (product-wide)
    before: UsageSideOut
    after: UsageSideOut
    change: float | None  # after - before; None when either side has no data


def _side(side: UsageSide) -> UsageSideOut:
    return UsageSideOut(mean=side.mean, accounts=side.accounts, rows=side.rows)


def parse_at(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise field_error("query", "at", "give a time with its zone, e.g. 2026-05-01T00:00:00Z")
    if not EARLIEST <= at <= LATEST:
        raise field_error("query", "at", f"must lie between {EARLIEST.date()} and {LATEST.date()}")
    return at.astimezone(UTC)


def usage_router(get_deps: Callable[[], ApiDeps], get_common: Callable[[], CommonSettings]) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["health"],
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        responses=error_responses(401, 403, 422),
    )

    @router.get("/usage/around")
    async def around(
        at: datetime,
        days: int = Query(30, ge=1, le=MAX_DAYS),
        account_id: str | None = Query(None, min_length=1, max_length=200),
    ) -> UsageAroundOut:
        """Mean daily usage (``active_users_ratio``) over [at - days, at) and [at, at + days), of one
        account or of all accounts when ``account_id`` is left out."""
        t = parse_at(at)
        window = timedelta(days=days)
        rows = await queries.usage_rows(
            get_deps().engine,
            measure=USAGE_MEASURE,
            at=t,
            since=t - window,
            until=t + window,
            account_id=account_id,
        )
        result = usage_around(rows, at=t, days=days)
        return UsageAroundOut(
            measure=USAGE_MEASURE,
            at=t,
            days=days,
            account_id=account_id,
            before=_side(result.before),
            after=_side(result.after),
            change=result.change,
        )

    return router
