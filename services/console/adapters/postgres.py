"""The login throttle's counters in Postgres (``console.login_failures``), shared by replicas."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.console.throttle import Failures, Key


class PostgresThrottleStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def read(self, keys: Sequence[Key]) -> dict[Key, Failures]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    """SELECT f.scope, f.key, f.failures, extract(epoch FROM f.last_at)
                    FROM console.login_failures f
                    JOIN unnest(CAST(:scopes AS text[]), CAST(:keys AS text[])) AS k(scope, key)
                      ON f.scope = k.scope AND f.key = k.key"""
                ),
                {"scopes": [s for s, _ in keys], "keys": [k for _, k in keys]},
            )
            return {(row[0], row[1]): Failures(count=row[2], last_at=float(row[3])) for row in rows}

    async def failed(self, keys: Sequence[Key], *, now: float, forget_after_s: float) -> None:
        # Keys in order, so two replicas counting the same keys never deadlock.
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    """INSERT INTO console.login_failures AS f (scope, key, failures, last_at)
                    VALUES (:scope, :key, 1, to_timestamp(:now))
                    ON CONFLICT (scope, key) DO UPDATE SET
                        failures = CASE WHEN f.last_at < to_timestamp(:cutoff) THEN 1 ELSE f.failures + 1 END,
                        last_at = GREATEST(f.last_at, EXCLUDED.last_at)"""
                ),
                [{"scope": s, "key": k, "now": now, "cutoff": now - forget_after_s} for s, k in sorted(keys)],
            )
        # Forgotten counters go; rows another replica is updating are skipped, not waited for.
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    """DELETE FROM console.login_failures WHERE ctid IN (
                        SELECT ctid FROM console.login_failures WHERE last_at < to_timestamp(:cutoff)
                        FOR UPDATE SKIP LOCKED)"""
                ),
                {"cutoff": now - forget_after_s},
            )

    async def clear(self, keys: Sequence[Key]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM console.login_failures WHERE scope = :scope AND key = :key"),
                [{"scope": s, "key": k} for s, k in keys],
            )
