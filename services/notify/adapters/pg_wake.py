"""Postgres NOTIFY that wakes notify's loops when work they carry out was committed.

A transaction that stores a pending delivery, an outcome to publish or a webhook to post names
the loop on ``CHANNEL`` (payload: ``mail``, ``outcomes`` or ``webhooks``). Postgres delivers a
notification only once its transaction commits, and once per distinct payload per transaction,
so a loop woken by it always finds the committed rows; every notify process listening (this one
and the other replicas) hears it, and their loops race for the rows with SKIP LOCKED as before.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "touchline_notify_work"
LOOPS = ("mail", "outcomes", "webhooks")


async def wake(conn: AsyncConnection, loop: str) -> None:
    """Wake ``loop`` in every listening process when the caller's transaction commits."""
    if loop not in LOOPS:
        raise ValueError(f"no loop {loop!r} to wake (known: {', '.join(LOOPS)})")
    await conn.execute(text("SELECT pg_notify(:channel, :loop)"), {"channel": CHANNEL, "loop": loop})
