"""The portfolio: revenue retention, logo churn, and accounts and ARR per band over time, for the
whole book or per CSM or tier (touch's GET /v1/portfolio)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import charts
from ..ports import BackendRefused
from .accounts import BadInput
from .common import SignedIn

router = APIRouter()
GROUPINGS = ("none", "csm", "tier")
MONTHS = (6, 12, 24)
BANDS = ("good", "healthy", "caution", "action_required", "unscored")
# touch's period grammar (domain/portfolio.py); touch judges the rest (a period not started yet).
PERIOD = re.compile(r"ttm|\d{4}(-(Q[1-4]|0[1-9]|1[0-2]))?")


def _chart(section: dict[str, Any], *, measure: str, label: str, names: dict[str, str]) -> str:
    columns = [
        charts.BandColumn(m["month"], {b["band"]: float(b[measure]) for b in m["bands"]}) for m in section["months"]
    ]
    return charts.band_columns_chart(columns, bands=BANDS, label=label, names=names)


@router.get("/portfolio")
async def portfolio_page(request: Request, ctx: SignedIn) -> Response:
    q = request.query_params
    period = q.get("period", "ttm").strip().upper().replace("TTM", "ttm")
    if not PERIOD.fullmatch(period):
        raise BadInput("period", "use ttm, a year (2026), a quarter (2026-Q3) or a month (2026-07)")
    by = q.get("by", "none")
    if by not in GROUPINGS:
        raise BadInput("by", f"must be one of {', '.join(GROUPINGS)}")
    raw = q.get("months", "12")
    if not raw.isdigit() or int(raw) not in MONTHS:
        raise BadInput("months", f"must be one of {', '.join(map(str, MONTHS))}")
    months = int(raw)
    notice, view, chart_arr, chart_accounts = None, None, "", ""
    try:
        view = await ctx.backend.portfolio(period=period, by=by, months=months)
    except BackendRefused as exc:
        notice = exc.message
    if view is not None:
        names = {b: ctx.t(f"band.{'none' if b == 'unscored' else b}") for b in BANDS}
        chart_arr = _chart(view["total"], measure="arr", label=ctx.t("portfolio.chart_arr"), names=names)
        chart_accounts = _chart(view["total"], measure="accounts", label=ctx.t("portfolio.chart_accounts"), names=names)
    now = await ctx.backend.now()
    periods = ["ttm", str(now.year), str(now.year - 1), f"{now.year}-Q{(now.month - 1) // 3 + 1}"]
    return ctx.render(
        "portfolio.html",
        notice=notice,
        view=view,
        period=period,
        periods=periods,
        by=by,
        groupings=GROUPINGS,
        months=months,
        month_choices=MONTHS,
        bands=BANDS,
        chart_arr=chart_arr,
        chart_accounts=chart_accounts,
    )
