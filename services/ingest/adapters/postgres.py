"""The user -> account map and parked events in schema ``ingest``. No decisions here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..identity import Parked
from ..ports import StoredParked, StoreUnavailable
from ..semantics import EventDoc

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(k, 7)) FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
# The event as text, read by orjson: jsonb prints a number such as 1e133 with all its digits, and
# a JSON reader that makes that a Python int would hand Kafka's encoder an integer past 64 bits.
_RELEASABLE = """SELECT p.message_id, p.event::text AS event, m.account_id
    FROM ingest.parked_events p
    JOIN LATERAL (SELECT account_id FROM ingest.user_accounts a
                  WHERE a.user_key = ANY(p.user_keys) ORDER BY array_position(p.user_keys, a.user_key) LIMIT 1) m
      ON true
    {where}
    ORDER BY p.seq
    LIMIT :limit"""


class PostgresIdentities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def accounts(self, keys: Sequence[str]) -> dict[str, str]:
        # A single read needs no transaction: autocommit spares a BEGIN/ROLLBACK round trip per request.
        async with _errors(), self._engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await _accounts(conn, keys)

    async def park_and_link(
        self, *, parked: Sequence[tuple[Parked, EventDoc]], links: dict[str, str], source: str, now: datetime
    ) -> dict[str, str]:
        parked_keys = {k for p, _ in parked for k in p.keys}
        async with _errors(), self._engine.begin() as conn:
            # Serialise with concurrent requests about the same people: a group call either sees
            # our parked rows once we commit, or we see its link below and do not park at all.
            await conn.execute(text(_LOCK), {"keys": sorted(parked_keys | set(links))})
            if links:
                await conn.execute(
                    text(
                        """INSERT INTO ingest.user_accounts (user_key, account_id, source, updated_at)
                        VALUES (:k, :a, :s, :t) ON CONFLICT (user_key)
                        DO UPDATE SET account_id = EXCLUDED.account_id, source = EXCLUDED.source,
                                      updated_at = EXCLUDED.updated_at"""
                    ),
                    [{"k": k, "a": a, "s": source, "t": now} for k, a in links.items()],
                )
            late = await _accounts(conn, sorted(parked_keys)) if parked_keys else {}
            rows = [
                {"m": e["message_id"], "k": list(p.keys), "s": source, "e": orjson.dumps(e).decode(), "t": now}
                for p, e in parked
                if not any(k in late for k in p.keys)
            ]
            if rows:
                await conn.execute(
                    text(
                        """INSERT INTO ingest.parked_events (message_id, user_keys, source, event, parked_at)
                        VALUES (:m, :k, :s, CAST(:e AS jsonb), :t) ON CONFLICT (message_id) DO NOTHING"""
                    ),
                    rows,
                )
            return late

    async def parked_for(self, keys: Sequence[str]) -> list[tuple[StoredParked, str]]:
        where = "WHERE p.user_keys && CAST(:keys AS text[])"
        async with _errors(), self._engine.connect() as conn:
            result = await conn.execute(text(_RELEASABLE.format(where=where)), {"keys": list(keys), "limit": 100_000})
            return [_stored(r) for r in result]

    async def stranded(self, limit: int) -> list[tuple[StoredParked, str]]:
        async with _errors(), self._engine.connect() as conn:
            result = await conn.execute(text(_RELEASABLE.format(where="")), {"limit": limit})
            return [_stored(r) for r in result]

    async def forget(self, message_ids: Sequence[str]) -> None:
        async with _errors(), self._engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM ingest.parked_events WHERE message_id = ANY(CAST(:ids AS text[]))"),
                {"ids": list(message_ids)},
            )


async def _accounts(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, str]:
    if not keys:
        return {}
    rows = await conn.execute(
        text("SELECT user_key, account_id FROM ingest.user_accounts WHERE user_key = ANY(CAST(:keys AS text[]))"),
        {"keys": list(keys)},
    )
    return {r.user_key: r.account_id for r in rows}


def _stored(row: object) -> tuple[StoredParked, str]:
    payload = row.event  # type: ignore[attr-defined]
    data = orjson.loads(payload) if isinstance(payload, str | bytes) else payload
    for field in ("timestamp", "received_at"):
        data[field] = datetime.fromisoformat(data[field])
    return StoredParked(message_id=row.message_id, event=data), row.account_id  # type: ignore[attr-defined]


@asynccontextmanager
async def _errors() -> AsyncIterator[None]:
    try:
        yield
    except (OperationalError, DBAPIError, OSError) as exc:
        raise StoreUnavailable(f"Postgres: {exc.__class__.__name__}") from exc
