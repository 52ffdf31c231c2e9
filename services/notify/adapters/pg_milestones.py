"""Postgres: milestones (releases, trainings) from product events and from CSMs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.milestones import Milestone

S = "notify"
Row = Mapping[str, Any]


async def insert_milestone(conn: AsyncConnection, m: Milestone, *, now: datetime) -> bool:
    """False when it was recorded before (the same event delivered twice)."""
    result = await conn.execute(
        text(f"""INSERT INTO {S}.milestones (id, kind, title, account_id, occurred_at, source, created_by, created_at)
            VALUES (:id, :k, :t, :a, :at, :src, :by, :now) ON CONFLICT (id) DO NOTHING RETURNING 1"""),
        {"id": m.id, "k": m.kind, "t": m.title, "a": m.account_id, "at": m.occurred_at, "src": m.source,
         "by": m.created_by, "now": now},
    )  # fmt: skip
    return result.scalar() is not None


async def list_milestones(
    conn: AsyncConnection, *, since: datetime | None, until: datetime | None, account_id: str | None, limit: int
) -> list[Row]:
    """Newest first; with ``account_id``, that account's milestones and the product-wide ones."""
    rows = await conn.execute(
        text(f"""SELECT * FROM {S}.milestones
            WHERE (CAST(:since AS timestamptz) IS NULL OR occurred_at >= :since)
              AND (CAST(:until AS timestamptz) IS NULL OR occurred_at < :until)
              AND (CAST(:a AS text) IS NULL OR account_id IS NULL OR account_id = :a)
            ORDER BY occurred_at DESC, id LIMIT :n"""),
        {"since": since, "until": until, "a": account_id, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]
