"""Postgres: the activities CSMs log on accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

S = "notify"


async def insert_activity(conn: AsyncConnection, row: Mapping[str, Any]) -> dict[str, Any]:
    cols = ", ".join(row)
    params = ", ".join(f":{k}" for k in row)
    result = await conn.execute(text(f"INSERT INTO {S}.activities ({cols}) VALUES ({params}) RETURNING *"), dict(row))
    return dict(result.mappings().one())


async def account_activities(conn: AsyncConnection, account_id: str, *, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(f"SELECT * FROM {S}.activities WHERE account_id = :a ORDER BY occurred_at DESC, id LIMIT :n"),
        {"a": account_id, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]
