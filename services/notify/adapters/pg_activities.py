"""Postgres: the activities CSMs log on accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

S = "notify"


async def insert_activity(conn: AsyncConnection, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored row, or None when an activity with this id exists (a retry)."""
    cols = ", ".join(row)
    params = ", ".join(f":{k}" for k in row)
    result = await conn.execute(
        text(f"INSERT INTO {S}.activities ({cols}) VALUES ({params}) ON CONFLICT (id) DO NOTHING RETURNING *"),
        dict(row),
    )
    found = result.mappings().first()
    return dict(found) if found is not None else None


async def get_activity(conn: AsyncConnection, activity_id: str) -> dict[str, Any] | None:
    result = await conn.execute(text(f"SELECT * FROM {S}.activities WHERE id = :id"), {"id": activity_id})
    found = result.mappings().first()
    return dict(found) if found is not None else None


async def account_activities(conn: AsyncConnection, account_id: str, *, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(f"SELECT * FROM {S}.activities WHERE account_id = :a ORDER BY occurred_at DESC, id LIMIT :n"),
        {"a": account_id, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]
