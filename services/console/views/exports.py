"""The account list as a CSV file, filtered as on screen (the list's "Download CSV" link)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..models import AccountRow
from ..ports import BackendRefused
from .accounts import account_query
from .common import SignedIn

router = APIRouter()
EXPORT_PAGE = 500
# The console reads each row's score and trend from the services; beyond this, export from the API.
EXPORT_MAX = 10_000
COLUMNS = ("account_id", "name", "band", "score", "tier", "phase", "owner", "open_tasks", "renewal_date", "overridden")
# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell's text, a leading formula character neutralised by a quote (the value stays readable)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def accounts_csv(rows: Iterable[AccountRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(safe_cell(getattr(row, column)) for column in COLUMNS)
    return out.getvalue()


_HTML = {"text/html": {"schema": {"type": "string"}}}
# What /accounts.csv answers (the console's OpenAPI takes these instead of a page's).
EXPORT_ANSWERS: dict[str, dict[str, Any]] = {
    "200": {
        "description": "the filtered account list as a CSV download",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    "303": {"description": "to /login without a session"},
    "403": {"description": "the person's role does not allow this list (all accounts): the 403 page", "content": _HTML},
    "422": {"description": "an invalid query: the error page", "content": _HTML},
    "502": {"description": "health, touch or notify did not answer: the error page", "content": _HTML},
    "503": {
        "description": "a service refused the listing: the reason, rather than a file missing the filter",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}


@router.get("/accounts.csv", openapi_extra={"x-answers": EXPORT_ANSWERS})
async def export_accounts(request: Request, ctx: SignedIn) -> Response:
    _, query = account_query(request, ctx, limit=EXPORT_PAGE, offset=0)
    rows: list[AccountRow] = []
    try:
        while len(rows) < EXPORT_MAX:
            page = await ctx.backend.list_accounts(query)
            rows.extend(page.items)
            if not page.has_next or not page.items:
                break
            query = replace(query, offset=query.offset + len(page.items))
    except BackendRefused as exc:
        # A file silently missing the filter would be worse than none: say why instead.
        return Response(exc.message, status_code=503, media_type="text/plain; charset=utf-8")
    today = (await ctx.backend.now()).date().isoformat()
    return Response(
        # A BOM: Excel opens UTF-8 CSV (Japanese names) correctly only with one.
        "\ufeff" + accounts_csv(rows[:EXPORT_MAX]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="accounts-{today}.csv"'},
    )
