"""Postgres: how much work notify still holds, counted through the partial indexes of each queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

S = "notify"
QUEUES = ("deliveries_pending", "deliveries_sending", "outbox_unpublished", "webhooks_pending", "parked_commands")


async def backlog(conn: AsyncConnection) -> dict[str, int]:
    """One statement: each queue's length (pending includes mails waiting for a retry's backoff)."""
    row = (
        (
            await conn.execute(
                text(f"""SELECT
                (SELECT count(*) FROM {S}.deliveries WHERE state = 'pending') AS deliveries_pending,
                (SELECT count(*) FROM {S}.deliveries WHERE state = 'sending') AS deliveries_sending,
                (SELECT count(*) FROM {S}.outbox WHERE published_at IS NULL) AS outbox_unpublished,
                (SELECT count(*) FROM {S}.webhook_deliveries WHERE state IN ('pending', 'sending')) AS webhooks_pending,
                (SELECT count(*) FROM {S}.parked_commands) AS parked_commands""")
            )
        )
        .mappings()
        .one()
    )
    return {q: int(row[q]) for q in QUEUES}


async def due_now(conn: AsyncConnection, *, wall_now: datetime) -> dict[str, int]:
    """The queues' work due by ``wall_now`` (the delivery loops run on the wall clock): mail to
    send now or being sent, outcomes to publish. A mail waiting out a retry's backoff is not due."""
    row = (
        (
            await conn.execute(
                text(f"""SELECT
                (SELECT count(*) FROM {S}.deliveries
                  WHERE (state = 'pending' AND next_attempt_at <= :now) OR state = 'sending') AS mails,
                (SELECT count(*) FROM {S}.outbox WHERE published_at IS NULL) AS outcomes"""),
                {"now": wall_now},
            )
        )
        .mappings()
        .one()
    )
    return {"mails": int(row["mails"]), "outcomes": int(row["outcomes"])}
