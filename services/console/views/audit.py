"""The audit log page (managers and admins): who changed what, when, before and after, merged from
every service's audit log and the console's user changes, filtered by actor, account, action and date."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import user_log
from ..models import AuditQuery
from .accounts import BadInput
from .common import SignedIn, parse_day, require

router = APIRouter()
PAGE = 200


def _text(request: Request, name: str, *, longest: int) -> str | None:
    value = (request.query_params.get(name) or "").strip()
    if len(value) > longest:
        raise BadInput(name, f"at most {longest} characters")
    return value or None


def _day(request: Request, name: str) -> Any:
    try:
        return parse_day(request.query_params.get(name))
    except ValueError:
        raise BadInput(name, "must be a date (YYYY-MM-DD)") from None


@router.get("/audit")
async def audit_page(request: Request, ctx: SignedIn) -> Response:
    require(ctx, "audit.read")
    until = _day(request, "until")
    query = AuditQuery(
        actor=(_text(request, "actor", longest=254) or "").lower() or None,
        account_id=_text(request, "account", longest=500),
        action=_text(request, "action", longest=200),
        since=_day(request, "since"),
        until=until + timedelta(days=1) if until else None,  # the whole "until" day
        limit=PAGE,
    )
    users_file = Path(ctx.request.app.state.console.settings.users_file)
    changes = await asyncio.to_thread(user_log.read, users_file)
    entries = user_log.matching([*await ctx.backend.audit(query), *changes], query)
    return ctx.render(
        "audit.html",
        entries=entries,
        filters={k: request.query_params.get(k, "") for k in ("actor", "account", "action", "since", "until")},
        shown=_shown,
        page_size=PAGE,
    )


def _shown(value: Any) -> str:
    """Before/after/body as compact JSON for the page (the template escapes it)."""
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 600 else text[:600] + "…"
