"""Postgres: survey answers notify recorded, across in-app messages and one-click email answers.

An in-app message keeps its current answer and when it was given (a changed answer moves
``answered_at``). A delivery keeps its current answer but ``answered_at`` of the FIRST click, so the
time of an email answer is read from its latest ``answer`` link event (the event that set the
current answer, or a repeat of it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

S = "notify"
Row = Mapping[str, Any]
_TABLES = {"in_app": "inapp_messages", "email": "deliveries"}


async def lock_delivery(conn: AsyncConnection, delivery_id: str) -> Row | None:
    """The delivery, locked until the transaction ends: two clicks on one mail are answered one by one."""
    result = await conn.execute(text(f"SELECT * FROM {S}.deliveries WHERE id = :id FOR UPDATE"), {"id": delivery_id})
    found = result.mappings().first()
    return dict(found) if found is not None else None


async def log_email_answer(
    conn: AsyncConnection, *, delivery_id: str, answer: Mapping[str, Any], now: datetime
) -> None:
    """Every one-click answer is logged (its time is the answer's time in the listing)."""
    await conn.execute(
        text(f"""INSERT INTO {S}.link_events (delivery_id, kind, machine, answer, occurred_at)
            VALUES (:d, 'answer', false, CAST(:a AS jsonb), :now)"""),
        {"d": delivery_id, "a": json.dumps(answer, ensure_ascii=False), "now": now},
    )


async def store_answer(
    conn: AsyncConnection, *, channel: str, source_id: str, answer: Mapping[str, Any], now: datetime
) -> int | None:
    """Make ``answer`` the current answer of the message or delivery; its new answer number, or None
    when it already was the current answer (a repeated submission is not a new answer).

    An in-app message's ``answered_at`` is when its current answer was given; a delivery keeps the
    time of the first click (its latest is read from the link events).
    """
    table = _TABLES[channel]
    stamp = ":now" if channel == "in_app" else "COALESCE(answered_at, :now)"
    result = await conn.execute(
        text(f"""UPDATE {S}.{table} SET answer = CAST(:a AS jsonb), answered_at = {stamp}, answer_seq = answer_seq + 1
            WHERE id = :id AND answer IS DISTINCT FROM CAST(:a AS jsonb) RETURNING answer_seq"""),
        {"id": source_id, "a": json.dumps(answer, ensure_ascii=False), "now": now},
    )
    seq = result.scalar()
    return int(seq) if seq is not None else None


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
