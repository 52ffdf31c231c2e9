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
# Postgres NOTIFY channel: "a new in-app message for user <payload>" (see announce).
CHANNEL = "notify_inapp"
MAX_PAYLOAD = 7900
_EVENT_COLUMN = {"seen": "seen_at", "clicked": "clicked_at", "dismissed": "dismissed_at"}
# Open: not dismissed, and not answered unless the answer still lacks its first question
# (``surveys.awaits_answer``: a partial NPS answer with only the comment keeps the survey shown).
OPEN = """dismissed_at IS NULL
    AND (answered_at IS NULL OR (answer->>'partial' = 'true' AND answer->>'score' IS NULL))"""


async def insert_message(conn: AsyncConnection, row: Mapping[str, Any]) -> bool:
    values = {**row, "choices": json.dumps(row.get("choices") or [], ensure_ascii=False)}
    cols = ", ".join(values)
    params = ", ".join(f"CAST(:{k} AS jsonb)" if k == "choices" else f":{k}" for k in values)
    result = await conn.execute(
        text(f"INSERT INTO {S}.inapp_messages ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING RETURNING id"),
        values,
    )
    return result.first() is not None


async def users_messages(
    conn: AsyncConnection, user_ids: Sequence[str], *, now: datetime, since: datetime
) -> list[Row]:
    """The users' messages that are still open and unexpired, or were shown since ``since`` (the cap
    counts those): one query for every user a stream check looks at, oldest first per user."""
    rows = await conn.execute(
        text(f"""SELECT * FROM {S}.inapp_messages WHERE user_id = ANY(:users)
              AND (({OPEN} AND (expires_at IS NULL OR expires_at > :now))
                   OR shown_at >= :since)
            ORDER BY user_id, created_at, id"""),
        {"users": list(user_ids), "now": now, "since": since},
    )
    return [dict(r) for r in rows.mappings()]


async def announce(conn: AsyncConnection, user_ids: Sequence[str]) -> None:
    """NOTIFY every listening notify process that these users have a new message.

    Postgres delivers it at commit (never for a rolled-back batch) to every replica's listener;
    a payload must stay under 8000 bytes, so an absurdly long user id is left to the periodic sweep.
    """
    users = [u for u in dict.fromkeys(user_ids) if len(u.encode()) < MAX_PAYLOAD]
    if users:
        await conn.execute(
            text("SELECT pg_notify(:channel, u) FROM unnest(CAST(:users AS text[])) AS u"),
            {"channel": CHANNEL, "users": users},
        )


async def mark_shown(conn: AsyncConnection, ids: Sequence[str], *, now: datetime) -> list[Row]:
    if not ids:
        return []
    rows = await conn.execute(
        text(f"""UPDATE {S}.inapp_messages SET shown_at = :now WHERE id = ANY(:ids) AND shown_at IS NULL
            RETURNING *"""),
        {"ids": sorted(ids), "now": now},
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


async def record_event(conn: AsyncConnection, message_id: str, *, event: str, now: datetime) -> bool:
    """Stamp seen/clicked/dismissed; True the first time (answers: ``pg_answers.store_answer``)."""
    column = _EVENT_COLUMN[event]
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
