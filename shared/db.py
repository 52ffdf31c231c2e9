"""Postgres: the async engine, consumed offsets and processed-message ids, kept per service schema.

Repositories never commit. The consumer runner (or an API handler) opens one transaction,
lets the handler write, stores the consumed offsets in the same transaction, then commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from . import metrics
from .cloudevents import Envelope


def make_engine(database_url: str, *, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def offsets_ddl(schema: str) -> list[str]:
    """DDL for the tables every consuming service keeps: offsets and processed message ids."""
    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"""CREATE TABLE IF NOT EXISTS {schema}.consumed_offsets (
            group_id text NOT NULL, topic text NOT NULL, partition int NOT NULL,
            next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (group_id, topic, partition))""",
        f"""CREATE TABLE IF NOT EXISTS {schema}.processed_messages (
            id text PRIMARY KEY, seen_at timestamptz NOT NULL)""",
    ]


async def save_offsets(
    conn: AsyncConnection, schema: str, group_id: str, positions: Mapping[tuple[str, int], int]
) -> None:
    """Record the next offset to read per (topic, partition), inside the caller's transaction."""
    if not positions:
        return
    await conn.execute(
        text(
            f"""INSERT INTO {schema}.consumed_offsets (group_id, topic, partition, next_offset)
            VALUES (:g, :t, :p, :o)
            ON CONFLICT (group_id, topic, partition)
            DO UPDATE SET next_offset = GREATEST(consumed_offsets.next_offset, EXCLUDED.next_offset),
                          updated_at = now()"""
        ),
        [{"g": group_id, "t": t, "p": p, "o": o} for (t, p), o in positions.items()],
    )


async def lock_offsets(
    conn: AsyncConnection, schema: str, group_id: str, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Lock the offset rows of these partitions for this transaction and return them.

    Two consumers can briefly both hold a partition (a rebalance racing a batch in flight, a
    zombie replica): the row lock serialises them and the returned positions tell the caller
    which records were already applied.
    """
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    params = {"g": group_id, "t": [t for t, _ in pairs], "p": [p for _, p in pairs]}
    await conn.execute(
        text(
            f"""INSERT INTO {schema}.consumed_offsets (group_id, topic, partition, next_offset)
            SELECT :g, t, p, 0 FROM unnest(CAST(:t AS text[]), CAST(:p AS int[])) AS x(t, p)
            ON CONFLICT DO NOTHING"""
        ),
        params,
    )
    rows = await conn.execute(
        text(
            f"""SELECT o.topic, o.partition, o.next_offset FROM {schema}.consumed_offsets o
            JOIN unnest(CAST(:t AS text[]), CAST(:p AS int[])) AS x(t, p) ON o.topic = x.t AND o.partition = x.p
            WHERE o.group_id = :g ORDER BY o.topic, o.partition FOR UPDATE OF o"""
        ),
        params,
    )
    return {(r.topic, r.partition): r.next_offset for r in rows}


async def load_offsets(
    conn: AsyncConnection, schema: str, group_id: str, topic_names: Iterable[str]
) -> dict[tuple[str, int], int]:
    rows = await conn.execute(
        text(
            f"SELECT topic, partition, next_offset FROM {schema}.consumed_offsets WHERE group_id = :g AND topic = ANY(:t)"
        ),
        {"g": group_id, "t": list(topic_names)},
    )
    return {(r.topic, r.partition): r.next_offset for r in rows}


def dedup_key(env: Envelope) -> str:
    """The processed-message id of a consumed record: its CloudEvents type and id (a producer's
    ids are unique per type). Health keeps the bare id it has always stored: switching would
    process once more a duplicate that arrives across the upgrade."""
    return f"{env.type}:{env.id}"


async def first_seen(
    conn: AsyncConnection, schema: str, ids: Iterable[str], *, now: datetime, counted: bool = True
) -> set[str]:
    """Mark ids as processed; return those never seen before (the rest are duplicates).

    ``counted=False``: the caller reports the duplicates as skipped in its BatchResult (shared/fates.py),
    so they are not counted here as well."""
    given = list(ids)
    unique = list(dict.fromkeys(given))
    if not unique:
        return set()
    rows = await conn.execute(
        text(
            f"""INSERT INTO {schema}.processed_messages (id, seen_at)
            SELECT unnest(CAST(:ids AS text[])), :now ON CONFLICT (id) DO NOTHING RETURNING id"""
        ),
        {"ids": unique, "now": now},
    )
    fresh = {r.id for r in rows}
    if counted:
        # Each service's schema is named as its consumer group.
        metrics.duplicates_dropped(schema, len(given) - len(fresh))
    return fresh


def processed_index_ddl(schema: str) -> str:
    """The index pruning reads (a later migration of each consuming service creates it)."""
    return f"CREATE INDEX IF NOT EXISTS processed_messages_seen_at ON {schema}.processed_messages (seen_at)"


async def prune_processed(engine: AsyncEngine, schema: str, *, before: datetime, chunk: int = 10_000) -> int:
    """Forget processed ids first seen before ``before``, ``chunk`` rows per transaction (short
    transactions: the consumer writes to the same table). Returns how many were forgotten."""
    total = 0
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(
                text(
                    f"""DELETE FROM {schema}.processed_messages WHERE id IN (
                        SELECT id FROM {schema}.processed_messages WHERE seen_at < :before LIMIT :chunk)"""
                ),
                {"before": before, "chunk": chunk},
            )
        deleted = result.rowcount or 0
        total += deleted
        if deleted < chunk:
            return total
