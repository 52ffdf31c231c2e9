"""GET /v1/portfolio: revenue retention, logo churn, and accounts and ARR per band over time,
for the whole book or per CSM or tier (domain/portfolio.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from touchline.shared.api_errors import error_responses, field_error, refuse_nul
from touchline.shared.runtime import Runtime, require_token
from touchline.shared.settings import CommonSettings

from .adapters.portfolio import load_book
from .domain.portfolio import By, parse_period, portfolio


class RetentionView(BaseModel):
    starting_accounts: int = Field(description="the cohort: accounts first seen before the start, not churned then")
    churned_accounts: int = Field(description="cohort accounts churned at the end")
    logo_churn: float | None = Field(description="churned / starting accounts; null without a cohort")
    starting_arr: float = Field(description="the cohort's ARR at the start")
    expansion: float
    contraction: float
    churned_arr: float = Field(description="the starting ARR of the churned accounts")
    grr: float | None = Field(description="(starting - contraction - churned) / starting ARR, at most 1")
    nrr: float | None = Field(description="(starting + expansion - contraction - churned) / starting ARR")
    new_accounts: int = Field(description="first seen within the period and not churned: not in the retention")
    new_arr: float


class BandCountView(BaseModel):
    band: str = Field(description="a health band, or unscored")
    accounts: int
    arr: float


class MonthBandsView(BaseModel):
    month: str = Field(description="YYYY-MM")
    as_of: datetime = Field(description="the state just before this instant (the month's end, or now)")
    bands: list[BandCountView]


class SectionView(BaseModel):
    key: str | None = Field(description="the CSM or tier; null for the total, or accounts with none")
    retention: RetentionView
    months: list[MonthBandsView]


class PortfolioView(BaseModel):
    period: str
    start: datetime
    end: datetime = Field(description="exclusive; now for a period not over yet")
    by: By
    total: SectionView
    groups: list[SectionView]
    generated_at: datetime


def router(*, get_runtime: Callable[[], Runtime], get_common: Callable[[], CommonSettings]) -> APIRouter:
    api = APIRouter(
        prefix="/v1",
        dependencies=[require_token(get_common), Depends(refuse_nul)],
        tags=["touch"],
        responses=error_responses(401, 422),
    )

    @api.get("/portfolio")
    async def get_portfolio(
        period: str | None = Query(None, description="ttm (default), YYYY, YYYY-Qn or YYYY-MM"),
        by: Annotated[By, Query(description="none, csm or tier")] = "none",
        months: int = Query(12, ge=1, le=36, description="months of bands, up to the period's end"),
    ) -> PortfolioView:
        runtime = get_runtime()
        now = runtime.clock.now()
        try:
            span = parse_period(period, now=now)
        except ValueError as exc:
            raise field_error("query", "period", str(exc)) from None
        async with runtime.engine.connect() as conn:
            book = await load_book(conn, until=span.end)
        # Seconds of CPU for a large book: off the event loop, so the consumer and other requests go on.
        result = await asyncio.to_thread(portfolio, book, start=span.start, end=span.end, months=months, by=by)
        return PortfolioView.model_validate({**asdict(result), "period": span.label, "generated_at": now})

    return api
