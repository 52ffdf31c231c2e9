"""Postgres: the in-app inbox of each end user."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

S = "notify"
Row = Mapping[str, Any]
_EVENT_COLUMN = {"seen": "seen_at", "clicked": "clicked_at", "dismissed": "dismissed_at", "answered": "answered_at"}


async def insert_message(conn: AsyncConnection, row: Mapping[str, Any]) -> bool:
    values = {**row, "choices": json.dumps(row.get("choices") or [], ensure_ascii=False)}
    cols = ", ".join(values)
    params = ", ".join(f"CAST(:{k} AS jsonb)" if k == "choices" else f":{k}" for k in values)
    result = await conn.execute(
        text(f"INSERT INTO {S}.inapp_messages ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING RETURNING id"),
        values,
    )
    return result.first() is not None


async def user_messages(conn: AsyncConnection, user_id: str, *, since: datetime) -> list[Row]:
    """The user's messages that are still open or were shown recently (the cap looks at those)."""
    rows = await conn.execute(
        text(f"""SELECT * FROM {S}.inapp_messages WHERE user_id = :u
              AND ((dismissed_at IS NULL AND answered_at IS NULL) OR shown_at >= :since)
            ORDER BY created_at, id"""),
        {"u": user_id, "since": since},
    )
    return [dict(r) for r in rows.mappings()]


async def mark_shown(conn: AsyncConnection, ids: Sequence[str], *, now: datetime) -> list[Row]:
    if not ids:
        return []
    rows = await conn.execute(
        text(f"""UPDATE {S}.inapp_messages SET shown_at = :now WHERE id = ANY(:ids) AND shown_at IS NULL
            RETURNING *"""),
        {"ids": list(ids), "now": now},
    )
    return [dict(r) for r in rows.mappings()]


async def get_message(conn: AsyncConnection, message_id: str, *, user_id: str) -> Row | None:
    """Only the owner's message: another user's id looks exactly like a missing one."""
    rows = await conn.execute(
        text(f"SELECT * FROM {S}.inapp_messages WHERE id = :id AND user_id = :u FOR UPDATE"),
        {"id": message_id, "u": user_id},
    )
    found = rows.mappings().first()
    return dict(found) if found is not None else None


async def record_event(
    conn: AsyncConnection, message_id: str, *, event: str, now: datetime, answer: dict[str, Any] | None
) -> bool:
    """Stamp the event; True the first time (an answer may be changed, which counts as new)."""
    column = _EVENT_COLUMN[event]
    if event == "answered":
        result = await conn.execute(
            text(f"""UPDATE {S}.inapp_messages SET answered_at = :now, answer = CAST(:a AS jsonb)
                WHERE id = :id AND answer IS DISTINCT FROM CAST(:a AS jsonb) RETURNING id"""),
            {"id": message_id, "now": now, "a": json.dumps(answer, ensure_ascii=False)},
        )
    else:
        result = await conn.execute(
            text(f"UPDATE {S}.inapp_messages SET {column} = :now WHERE id = :id AND {column} IS NULL RETURNING id"),
            {"id": message_id, "now": now},
        )
    return result.first() is not None


async def account_messages(conn: AsyncConnection, account_id: str, *, limit: int) -> list[Row]:
    rows = await conn.execute(
        text(f"""SELECT id, user_id, template, kind, survey, title, created_at, shown_at, seen_at, clicked_at,
              dismissed_at, answered_at, answer FROM {S}.inapp_messages WHERE account_id = :a
            ORDER BY created_at DESC LIMIT :n"""),
        {"a": account_id, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]
