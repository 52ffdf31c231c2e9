"""Survey answers notify recorded (in-app and one-click email), for the CSM console (bearer token).

``GET /v1/answers?survey=&since=&until=&account_id=&limit=&offset=`` → ``{"answers": [...], "total": n}``,
newest first. ``since`` is inclusive, ``until`` exclusive; both need a time zone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from touchline.shared.api_errors import error_responses, field_error, refuse_nul

from ..adapters.pg_answers import AnswerFilter, list_answers
from ..domain.surveys import SURVEYS
from ..state import StateDep

router = APIRouter(tags=["answers"], dependencies=[Depends(refuse_nul)], responses=error_responses(401, 403, 422))
# In a query string an unencoded "+" arrives as a space: "...T09:00:00 09:00" meant "+09:00".
_SPACED_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")


class BadQuery(ValueError):
    """A query parameter that cannot be used; the message starts with the parameter's name."""


def parse_instant(name: str, raw: str | None) -> datetime | None:
    """An ISO 8601 date-time with a time zone; empty means "not given"."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(_SPACED_OFFSET.sub(r"+\1", value))
        except ValueError:
            raise BadQuery(f"{name}: expected an ISO 8601 date-time such as 2026-01-31T00:00Z, got {raw!r}") from None
    if parsed.tzinfo is None:
        raise BadQuery(f"{name}: give a time zone (e.g. 2026-01-31T00:00Z)")
    return parsed


def answer_filter(*, survey: str | None, account_id: str | None, since: str | None, until: str | None) -> AnswerFilter:
    """Validate the query; raises BadQuery naming the first wrong parameter."""
    survey = (survey or "").strip() or None
    if survey is not None and survey not in SURVEYS:
        raise BadQuery(f"survey: expected one of {', '.join(SURVEYS)}")
    start, end = parse_instant("since", since), parse_instant("until", until)
    if start is not None and end is not None and end <= start:
        raise BadQuery("until: must be after since")
    return AnswerFilter(survey=survey, account_id=(account_id or "").strip() or None, since=start, until=end)


def answer_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One answer as the API shows it: the answer's fields flattened beside the answer itself."""
    answer = dict(row["answer"] or {})
    return {
        "id": row["id"],
        "channel": row["channel"],
        "account_id": row["account_id"],
        "user_id": row["user_id"],
        "template": row["template"],
        "survey": answer.get("survey"),
        "score": answer.get("score"),
        "choice": answer.get("choice"),
        "features": answer.get("features"),
        "comment": answer.get("comment"),
        "partial": bool(answer.get("partial")),  # some of the survey's questions unanswered (absent above)
        "answer": answer,
        "answered_at": row["answered_at"].isoformat(),
    }


@router.get("/v1/answers")
async def answers(
    state: StateDep,
    survey: str | None = None,
    since: str | None = None,
    until: str | None = None,
    account_id: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=2**53),  # Postgres' bigint ends at 2^63: a bound, not a 500
) -> dict[str, Any]:
    try:
        where = answer_filter(survey=survey, account_id=account_id, since=since, until=until)
    except BadQuery as exc:
        name, _, message = str(exc).partition(": ")
        raise field_error("query", name, message) from None
    async with state.engine.connect() as conn:
        rows, total = await list_answers(conn, where, limit=limit, offset=offset)
    return {"answers": [answer_view(r) for r in rows], "total": total, "limit": limit, "offset": offset}
