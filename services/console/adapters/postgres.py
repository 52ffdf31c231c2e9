"""The login throttle's counters in Postgres (``console.login_failures``), shared by replicas.

Row locks serialise attempts on one key across replicas: each reservation sees the ones before
it. Keys are locked in sorted order, so two attempts never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.console.throttle import Failures, Key

_RESERVE = text(
    """INSERT INTO console.login_failures AS f (scope, key, failures, last_at)
    VALUES (:scope, :key, 1, to_timestamp(:now))
    ON CONFLICT (scope, key) DO UPDATE SET
        failures = CASE WHEN f.last_at < to_timestamp(:cutoff) THEN 1 ELSE f.failures + 1 END,
        last_at = CASE WHEN f.last_at < to_timestamp(:cutoff) THEN EXCLUDED.last_at ELSE f.last_at END
    RETURNING f.failures - 1, extract(epoch FROM f.last_at)"""
)


class PostgresThrottleStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def reserve(self, keys: Sequence[Key], *, now: float, forget_after_s: float) -> dict[Key, Failures]:
        before: dict[Key, Failures] = {}
        async with self.engine.begin() as conn:
            for scope, key in sorted(keys):
                row = (
                    await conn.execute(
                        _RESERVE, {"scope": scope, "key": key, "now": now, "cutoff": now - forget_after_s}
                    )
                ).one()
                before[(scope, key)] = Failures(count=int(row[0]), last_at=float(row[1]))
        return before

    async def release(self, keys: Sequence[Key]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    """UPDATE console.login_failures SET failures = GREATEST(failures - 1, 0)
                    WHERE scope = :scope AND key = :key"""
                ),
                [{"scope": s, "key": k} for s, k in sorted(keys)],
            )

    async def failed(self, keys: Sequence[Key], *, now: float, forget_after_s: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    """UPDATE console.login_failures SET last_at = GREATEST(last_at, to_timestamp(:now))
                    WHERE scope = :scope AND key = :key"""
                ),
                [{"scope": s, "key": k, "now": now} for s, k in sorted(keys)],
            )
        # Forgotten counters go; rows another attempt holds are skipped, not waited for.
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
                [{"scope": s, "key": k} for s, k in sorted(keys)],
            )
