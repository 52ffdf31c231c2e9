"""Postgres: survey answers notify recorded, across in-app messages and one-click email answers.

An in-app message keeps its current answer and when it was given (a changed answer moves
``answered_at``). A delivery keeps its current answer but ``answered_at`` of the FIRST click, so the
time of an email answer is read from its latest ``answer`` link event (the event that set the
current answer, or a repeat of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

S = "notify"
Row = Mapping[str, Any]


@dataclass(frozen=True)
class AnswerFilter:
    survey: str | None = None
    account_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _sources(f: AnswerFilter) -> tuple[str, dict[str, Any]]:
    """Both channels as one relation (channel, id, account_id, user_id, template, answer, answered_at)."""
    inapp, email = ["m.answer IS NOT NULL"], ["d.answer IS NOT NULL"]
    params: dict[str, Any] = {}
    if f.survey is not None:
        inapp.append("m.answer->>'survey' = :survey")
        email.append("d.answer->>'survey' = :survey")
        params["survey"] = f.survey
    if f.account_id is not None:
        inapp.append("m.account_id = :account")
        email.append("d.account_id = :account")
        params["account"] = f.account_id
    if f.until is not None:
        inapp.append("m.answered_at < :until")
        # The first click precedes the latest one: a delivery first answered after `until` cannot match.
        email.append("d.answered_at < :until")
        params["until"] = f.until
    sql = f"""SELECT 'in_app' AS channel, m.id, m.account_id, m.user_id, m.template, m.answer, m.answered_at
            FROM {S}.inapp_messages m WHERE {" AND ".join(inapp)}
        UNION ALL
        SELECT 'email' AS channel, d.id, d.account_id, d.user_id, d.template, d.answer, e.occurred_at
            FROM {S}.deliveries d
            CROSS JOIN LATERAL (SELECT x.occurred_at FROM {S}.link_events x
                                WHERE x.delivery_id = d.id AND x.kind = 'answer'
                                ORDER BY x.id DESC LIMIT 1) e
            WHERE {" AND ".join(email)}"""
    return sql, params


def _window(f: AnswerFilter, params: dict[str, Any]) -> str:
    where = ["TRUE"]
    if f.since is not None:
        where.append("answered_at >= :since")
        params["since"] = f.since
    if f.until is not None:
        where.append("answered_at < :until")
    return " AND ".join(where)


async def list_answers(conn: AsyncConnection, f: AnswerFilter, *, limit: int, offset: int) -> tuple[list[Row], int]:
    """One page of answers, newest first (ties by channel and id, so pages are stable), and the total."""
    sources, params = _sources(f)
    where = _window(f, params)
    total = await conn.scalar(text(f"SELECT count(*) FROM ({sources}) a WHERE {where}"), params)
    rows = await conn.execute(
        text(f"""SELECT * FROM ({sources}) a WHERE {where}
            ORDER BY answered_at DESC, channel, id LIMIT :n OFFSET :o"""),
        {**params, "n": limit, "o": offset},
    )
    return [dict(r) for r in rows.mappings()], int(total or 0)
