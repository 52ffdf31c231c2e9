"""touch.webinars on the caller's connection (never commits), and the accounts of a segment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.segments import Segment
from ..domain.webinars import Webinar


def _webinar(row: Mapping[str, Any]) -> Webinar:
    return Webinar(
        id=row["id"],
        title=row["title"],
        starts_at=row["starts_at"],
        capacity=row["capacity"],
        segment=Segment(tiers=tuple(row["tiers"]), phases=tuple(row["phases"])),
        created_at=row["created_at"],
    )


async def insert_webinar(conn: AsyncConnection, w: Webinar) -> None:
    await conn.execute(
        text(
            """INSERT INTO touch.webinars (id, title, starts_at, capacity, tiers, phases, created_at)
            VALUES (:id, :title, :starts_at, :capacity, :tiers, :phases, :created_at)"""
        ),
        {
            "id": w.id,
            "title": w.title,
            "starts_at": w.starts_at,
            "capacity": w.capacity,
            "tiers": list(w.segment.tiers),
            "phases": list(w.segment.phases),
            "created_at": w.created_at,
        },
    )


async def get_webinar(conn: AsyncConnection, webinar_id: str) -> Webinar | None:
    row = (await conn.execute(text("SELECT * FROM touch.webinars WHERE id = :id"), {"id": webinar_id})).first()
    return _webinar(dict(row._mapping)) if row else None
