"""The portfolio view's reads on Postgres: every account's book facts, bands and tiers before an
instant. Read only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.book import BOOK_FACTS
from ..domain.portfolio import BAND, TIER, Book, Change


async def load_book(conn: AsyncConnection, *, until: datetime) -> Book:
    params = {"u": until, "kinds": [*BOOK_FACTS, BAND]}
    first_seen = {
        r.account_id: r.first_seen_at
        for r in await conn.execute(
            text("SELECT account_id, first_seen_at FROM touch.accounts WHERE first_seen_at < :u"), params
        )
    }
    changes = [
        Change(r.account_id, r.kind, r.at, r.value, r.label)
        for r in await conn.execute(
            text(
                """SELECT account_id, kind, at, value, label FROM touch.facts
                WHERE command_id IS NULL AND kind = ANY(:kinds) AND at < :u ORDER BY at, id"""
            ),
            params,
        )
    ]
    changes += [
        Change(r.account_id, TIER, r.at, label=r.tier)
        for r in await conn.execute(
            text("SELECT account_id, tier, at FROM touch.tier_history WHERE at < :u ORDER BY at, id"), params
        )
    ]
    return Book(first_seen=first_seen, changes=changes)
