"""notify.webinar_rsvps on the caller's connection (never commits)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.webinars import Seats


async def lock_seats(conn: AsyncConnection, webinar_id: str) -> None:
    """Serialise RSVPs to one webinar until the transaction ends (the last seat goes to one person)."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('notify.webinar:' || :w))"), {"w": webinar_id})


async def seats(conn: AsyncConnection, webinar_id: str, *, email: str) -> Seats:
    row = (
        await conn.execute(
            text(
                """SELECT count(*) AS taken, bool_or(email = :e) AS mine
                FROM notify.webinar_rsvps WHERE webinar_id = :w"""
            ),
            {"w": webinar_id, "e": email},
        )
    ).one()
    return Seats(taken=int(row.taken), mine=bool(row.mine))


async def add_rsvp(conn: AsyncConnection, webinar_id: str, delivery: Mapping[str, Any], *, now: datetime) -> None:
    await conn.execute(
        text(
            """INSERT INTO notify.webinar_rsvps (webinar_id, email, account_id, user_id, delivery_id, created_at)
            VALUES (:w, :e, :a, :u, :d, :t) ON CONFLICT DO NOTHING"""
        ),
        {
            "w": webinar_id,
            "e": delivery["email"],
            "a": delivery["account_id"],
            "u": delivery["user_id"],
            "d": delivery["id"],
            "t": now,
        },
    )


async def rsvps(conn: AsyncConnection, webinar_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            """SELECT email, account_id, user_id, created_at FROM notify.webinar_rsvps
            WHERE webinar_id = :w ORDER BY created_at, email"""
        ),
        {"w": webinar_id},
    )
    return [dict(r._mapping) for r in rows]
