"""The accounts of a segment, from touch.accounts (current tier and phase), on the caller's connection."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.segments import Segment


async def segment_accounts(conn: AsyncConnection, segment: Segment) -> list[str]:
    """The accounts whose current tier and phase match (touch.accounts holds both)."""
    rows = await conn.execute(
        text(
            """SELECT account_id FROM touch.accounts
            WHERE (cardinality(CAST(:tiers AS text[])) = 0 OR tier = ANY(CAST(:tiers AS text[])))
              AND (cardinality(CAST(:phases AS text[])) = 0 OR tier_phase = ANY(CAST(:phases AS text[])))
            ORDER BY account_id"""
        ),
        {"tiers": list(segment.tiers), "phases": list(segment.phases)},
    )
    return [r.account_id for r in rows]
