"""Postgres: email commands parked until one of their recipients is known (or their wait ends).

Functions take the caller's connection and never commit. Parking and releasing happen in the
consumer's batch transaction (with the consumed offsets); expiry in the sweep's own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.messages import Command

S = "notify"
Row = Mapping[str, Any]


async def park(conn: AsyncConnection, cmd: Command, *, now: datetime, until: datetime) -> bool:
    """False when the command is parked already (a replayed batch keeps the first deadline)."""
    result = await conn.execute(
        text(f"""INSERT INTO {S}.parked_commands (command_id, account_id, channel, command, parked_at, expires_at)
            VALUES (:id, :a, :ch, CAST(:cmd AS jsonb), :now, :until) ON CONFLICT (command_id) DO NOTHING
            RETURNING command_id"""),
        {
            "id": cmd.command_id,
            "a": cmd.account_id,
            "ch": cmd.channel,
            "cmd": cmd.model_dump_json(),
            "now": now,
            "until": until,
        },
    )
    return result.first() is not None


async def for_account(conn: AsyncConnection, account_id: str) -> list[Row]:
    """The account's parked commands, locked: the expiry sweep skips them while we decide."""
    rows = await conn.execute(
        text(f"""SELECT * FROM {S}.parked_commands WHERE account_id = :a ORDER BY parked_at, command_id
            FOR UPDATE"""),
        {"a": account_id},
    )
    return [dict(r) for r in rows.mappings()]


async def due(conn: AsyncConnection, *, now: datetime, limit: int) -> list[Row]:
    """Parked commands whose wait is over; rows a consumer is releasing right now are skipped."""
    rows = await conn.execute(
        text(f"""SELECT * FROM {S}.parked_commands WHERE expires_at <= :now ORDER BY expires_at
            LIMIT :n FOR UPDATE SKIP LOCKED"""),
        {"now": now, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]


async def unpark(conn: AsyncConnection, command_id: str) -> None:
    await conn.execute(text(f"DELETE FROM {S}.parked_commands WHERE command_id = :id"), {"id": command_id})


def command_of(row: Row) -> Command:
    return Command.model_validate(row["command"])
