"""Playbook effectiveness: a playbook's enrolled runs against its held-out accounts (touch's report)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..ports import BackendRefused
from .accounts import BadInput
from .common import SignedIn

router = APIRouter()
PERIODS = (30, 60, 90, 180)


@router.get("/effectiveness")
async def effectiveness_page(request: Request, ctx: SignedIn) -> Response:
    raw = request.query_params.get("days", "90")
    if not raw.isdigit() or int(raw) not in PERIODS:
        raise BadInput("days", f"must be one of {', '.join(map(str, PERIODS))}")
    days = int(raw)
    names = await ctx.backend.playbook_names()
    playbook = request.query_params.get("playbook") or (names[0] if names else None)
    if playbook is not None and playbook not in names:
        raise BadInput("playbook", f"unknown playbook {playbook!r} (known: {', '.join(names)})")
    notice, report = None, None
    if playbook is not None:
        try:
            report = await ctx.backend.effectiveness(playbook, days=days)
        except BackendRefused as exc:
            notice = exc.message
    return ctx.render(
        "effectiveness.html", notice=notice, names=names, playbook=playbook, report=report, days=days, periods=PERIODS
    )
