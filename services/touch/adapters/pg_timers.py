"""Touch's timer rows on Postgres (durable waits and fired one-shot date triggers), part of the
repository (``PgRepository`` mixes this in). Never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..ports import DueTimer


class TimerRows:
    conn: AsyncConnection

    async def set_timer(
        self,
        account_id: str,
        key: str,
        due_at: datetime,
        *,
        enrolment_id: str | None = None,
        playbook: str | None = None,
    ) -> None:
        """Schedule (or move) a timer; one that already fired for the same instant stays fired."""
        await self.conn.execute(
            text(
                """INSERT INTO touch.timers (account_id, key, due_at, enrolment_id, playbook)
                VALUES (:a, :k, :d, :e, :p)
                ON CONFLICT (account_id, key) DO UPDATE SET due_at = EXCLUDED.due_at,
                    enrolment_id = EXCLUDED.enrolment_id, playbook = EXCLUDED.playbook,
                    fired_at = CASE WHEN touch.timers.due_at = EXCLUDED.due_at THEN touch.timers.fired_at END"""
            ),
            {"a": account_id, "k": key, "d": due_at, "e": enrolment_id, "p": playbook},
        )

    async def clear_timer(self, account_id: str, key: str) -> None:
        await self.conn.execute(
            text("DELETE FROM touch.timers WHERE account_id = :a AND key = :k"), {"a": account_id, "k": key}
        )

    async def mark_fired(self, account_id: str, key: str, *, at: datetime) -> None:
        await self.conn.execute(
            text("UPDATE touch.timers SET fired_at = :at WHERE account_id = :a AND key = :k"),
            {"a": account_id, "k": key, "at": at},
        )

    async def next_due(self, account_id: str, *, until: datetime) -> DueTimer | None:
        row = (
            await self.conn.execute(
                text(
                    """SELECT account_id, key, due_at, enrolment_id, playbook FROM touch.timers
                    WHERE account_id = :a AND fired_at IS NULL AND due_at <= :u ORDER BY due_at, key LIMIT 1"""
                ),
                {"a": account_id, "u": until},
            )
        ).first()
        return DueTimer(row.account_id, row.key, row.due_at, row.enrolment_id, row.playbook) if row else None

    async def due_backlog(self, *, until: datetime) -> tuple[int, datetime | None]:
        """(timers due by ``until`` and not fired, the oldest one's due time): the loop's backlog."""
        row = (
            await self.conn.execute(
                text("SELECT count(*), min(due_at) FROM touch.timers WHERE fired_at IS NULL AND due_at <= :u"),
                {"u": until},
            )
        ).one()
        return int(row[0]), row[1]

    async def earliest_due(self, account_id: str) -> datetime | None:
        row = await self.conn.execute(
            text("SELECT min(due_at) FROM touch.timers WHERE account_id = :a AND fired_at IS NULL"), {"a": account_id}
        )
        value = row.scalar_one()
        return value if isinstance(value, datetime) else None

    async def due_accounts(self, *, until: datetime, limit: int) -> list[str]:
        """Accounts with a due timer, earliest first. Candidates only: the caller must take the
        account's lock (try_lock_account, the per-account SKIP LOCKED) before touching them."""
        rows = await self.conn.execute(
            text(
                """SELECT account_id, min(due_at) AS due FROM (
                    SELECT account_id, due_at FROM touch.timers WHERE fired_at IS NULL AND due_at <= :u
                    ORDER BY due_at LIMIT :n) t
                GROUP BY account_id ORDER BY due"""
            ),
            {"u": until, "n": limit},
        )
        return [r.account_id for r in rows]

    async def fired_date_triggers(self, account_id: str) -> dict[str, set[datetime]]:
        rows = await self.conn.execute(
            text("SELECT playbook, occurrence FROM touch.date_triggers_fired WHERE account_id = :a"), {"a": account_id}
        )
        fired: dict[str, set[datetime]] = {}
        for r in rows:
            fired.setdefault(r.playbook, set()).add(r.occurrence)
        return fired

    async def record_date_trigger(self, account_id: str, playbook: str, occurrence: datetime, *, at: datetime) -> None:
        await self.conn.execute(
            text(
                """INSERT INTO touch.date_triggers_fired (account_id, playbook, occurrence, fired_at)
                VALUES (:a, :p, :o, :at) ON CONFLICT DO NOTHING"""
            ),
            {"a": account_id, "p": playbook, "o": occurrence, "at": at},
        )

    async def get_timer(self, account_id: str, key: str) -> DueTimer | None:
        row = (
            await self.conn.execute(
                text(
                    "SELECT account_id, key, due_at, enrolment_id, playbook FROM touch.timers WHERE account_id = :a AND key = :k AND fired_at IS NULL"
                ),
                {"a": account_id, "k": key},
            )
        ).first()
        return DueTimer(row.account_id, row.key, row.due_at, row.enrolment_id, row.playbook) if row else None
