"""Postgres: CSM tasks, their comments, round-robin turns, webhook endpoints and webhook deliveries."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

S = "notify"
Row = Mapping[str, Any]


async def open_task_for(conn: AsyncConnection, *, account_id: str, type_: str, reason: str) -> Row | None:
    rows = await conn.execute(
        text(f"""SELECT * FROM {S}.tasks WHERE account_id = :a AND type = :t AND reason = :r
              AND status IN ('open', 'snoozed') FOR UPDATE"""),
        {"a": account_id, "t": type_, "r": reason},
    )
    found = rows.mappings().first()
    return dict(found) if found is not None else None


async def insert_task(conn: AsyncConnection, row: Mapping[str, Any]) -> Row:
    cols = ", ".join(row)
    params = ", ".join(f":{k}" for k in row)
    result = await conn.execute(text(f"INSERT INTO {S}.tasks ({cols}) VALUES ({params}) RETURNING *"), dict(row))
    return dict(result.mappings().one())


async def update_task(conn: AsyncConnection, task_id: str, changes: Mapping[str, Any]) -> Row | None:
    sets = ", ".join(f"{k} = :{k}" for k in changes)
    result = await conn.execute(
        text(f"UPDATE {S}.tasks SET {sets} WHERE id = :_id RETURNING *"), {**changes, "_id": task_id}
    )
    found = result.mappings().first()
    return dict(found) if found is not None else None


async def bump(conn: AsyncConnection, task_id: str, *, column: str, now: datetime, reopen: bool) -> Row:
    """Count a repeat (recurrences) or a held-back repeat (held_back); reopening ends the snooze."""
    status = ", status = 'open', snoozed_until = NULL" if reopen else ""
    stamp = ", last_recurred_at = :now" if column == "recurrences" else ""
    result = await conn.execute(
        text(f"""UPDATE {S}.tasks SET {column} = {column} + 1, updated_at = :now{stamp}{status}
            WHERE id = :id RETURNING *"""),
        {"id": task_id, "now": now},
    )
    return dict(result.mappings().one())


async def get_task(conn: AsyncConnection, task_id: str, *, lock: bool = False) -> Row | None:
    suffix = " FOR UPDATE" if lock else ""
    result = await conn.execute(text(f"SELECT * FROM {S}.tasks WHERE id = :id{suffix}"), {"id": task_id})
    found = result.mappings().first()
    return dict(found) if found is not None else None


async def list_tasks(
    conn: AsyncConnection,
    *,
    owner: str | None,
    status: str | None,
    priority: str | None,
    account_id: str | None,
    overdue_at: datetime | None,
    limit: int,
) -> list[Row]:
    where = ["TRUE"]
    params: dict[str, Any] = {"n": limit}
    for column, value in (("owner", owner), ("status", status), ("priority", priority), ("account_id", account_id)):
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    if overdue_at is not None:
        where.append("status IN ('open', 'snoozed') AND due_at < :overdue")
        params["overdue"] = overdue_at
    rows = await conn.execute(
        text(f"SELECT * FROM {S}.tasks WHERE {' AND '.join(where)} ORDER BY due_at NULLS LAST, id LIMIT :n"), params
    )
    return [dict(r) for r in rows.mappings()]


async def add_comment(conn: AsyncConnection, *, task_id: str, author: str | None, body: str, now: datetime) -> None:
    await conn.execute(
        text(f"INSERT INTO {S}.task_comments (task_id, author, body, created_at) VALUES (:t, :a, :b, :now)"),
        {"t": task_id, "a": author, "b": body, "now": now},
    )


async def comments(conn: AsyncConnection, task_id: str) -> list[Row]:
    rows = await conn.execute(
        text(f"SELECT author, body, created_at FROM {S}.task_comments WHERE task_id = :t ORDER BY id"), {"t": task_id}
    )
    return [dict(r) for r in rows.mappings()]


async def next_turn(conn: AsyncConnection, pool: str) -> int:
    result = await conn.execute(
        text(f"""INSERT INTO {S}.round_robin (pool, turn) VALUES (:p, 0)
            ON CONFLICT (pool) DO UPDATE SET turn = round_robin.turn + 1 RETURNING turn"""),
        {"p": pool},
    )
    return int(result.scalar_one())


async def account_tasks(conn: AsyncConnection, account_id: str, *, limit: int) -> list[Row]:
    rows = await conn.execute(
        text(f"SELECT * FROM {S}.tasks WHERE account_id = :a ORDER BY created_at DESC LIMIT :n"),
        {"a": account_id, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]


async def ensure_endpoint(
    conn: AsyncConnection, *, endpoint_id: str, url: str, kind: str, secret: str | None, now: datetime
) -> None:
    """Register (or re-stamp) an endpoint. Its id derives from kind, URL and secret, so another secret for
    the same URL is another row, never an overwrite. A URL that answered 410 stays disabled under any secret."""
    await conn.execute(
        text(f"""INSERT INTO {S}.webhook_endpoints (id, url, kind, secret, configured_at, disabled_at, disabled_reason)
            SELECT :id, :u, :k, :s, :now, gone.disabled_at, gone.disabled_reason
            FROM (SELECT 1) AS one LEFT JOIN LATERAL (
              SELECT disabled_at, disabled_reason FROM {S}.webhook_endpoints
              WHERE url = :u AND disabled_at IS NOT NULL ORDER BY disabled_at LIMIT 1) AS gone ON TRUE
            ON CONFLICT (id) DO UPDATE SET configured_at = EXCLUDED.configured_at"""),
        {"id": endpoint_id, "u": url, "k": kind, "s": secret, "now": now},
    )


async def live_endpoints(conn: AsyncConnection, ids: Sequence[str]) -> list[Row]:
    """The endpoints among ``ids`` (this instance's configuration) that a 410 has not disabled."""
    rows = await conn.execute(
        text(f"SELECT * FROM {S}.webhook_endpoints WHERE id = ANY(:ids) AND disabled_at IS NULL ORDER BY id"),
        {"ids": list(ids)},
    )
    return [dict(r) for r in rows.mappings()]


async def stamp_configured(conn: AsyncConnection, ids: Sequence[str], *, now: datetime, older_than: datetime) -> None:
    """This running instance still names these endpoints (written only when the stamp is getting old)."""
    await conn.execute(
        text(f"""UPDATE {S}.webhook_endpoints SET configured_at = :now
            WHERE id = ANY(:ids) AND (configured_at IS NULL OR configured_at < :old)"""),
        {"ids": list(ids), "now": now, "old": older_than},
    )


async def all_endpoints(conn: AsyncConnection) -> list[Row]:
    """Every instance's endpoints, with the last time any instance said it configures them."""
    rows = await conn.execute(text(f"SELECT id, url, kind, configured_at FROM {S}.webhook_endpoints ORDER BY id"))
    return [dict(r) for r in rows.mappings()]


async def drop_unconfigured(conn: AsyncConnection, endpoint_ids: Sequence[str]) -> int:
    """Queued webhooks of endpoints gone from every configuration: recorded, never sent."""
    result = await conn.execute(
        text(f"""UPDATE {S}.webhook_deliveries SET state = 'unconfigured',
              last_error = 'endpoint no longer configured; not sent'
            WHERE endpoint_id = ANY(:e) AND state = 'pending'"""),
        {"e": list(endpoint_ids)},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def adopt_webhooks(conn: AsyncConnection, *, from_endpoint: str, to_endpoint: str) -> int:
    """Queued webhooks of an orphaned endpoint move to the live one with the same URL (its secret signs them)."""
    result = await conn.execute(
        text(f"UPDATE {S}.webhook_deliveries SET endpoint_id = :to WHERE endpoint_id = :old AND state = 'pending'"),
        {"old": from_endpoint, "to": to_endpoint},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def disable_endpoint(conn: AsyncConnection, endpoint_id: str, *, reason: str, now: datetime) -> int:
    """Disable the endpoint's URL (410 says the URL is gone, whatever secret signs for it) and, in the same
    transaction, record everything queued for it as not sent."""
    url = await conn.scalar(text(f"SELECT url FROM {S}.webhook_endpoints WHERE id = :id"), {"id": endpoint_id})
    await conn.execute(
        text(f"""UPDATE {S}.webhook_endpoints SET disabled_at = COALESCE(disabled_at, :now),
              disabled_reason = COALESCE(disabled_reason, :r) WHERE url = :u"""),
        {"u": url, "r": reason, "now": now},
    )
    # Claimed rows too: another replica may hold some it has not posted yet (it checks before posting).
    return await _skip_disabled(conn, states=("pending", "sending"), url=url)


async def skip_disabled(conn: AsyncConnection) -> int:
    """Pending webhooks of disabled endpoints (queued by a transaction that raced the disabling): not sent."""
    return await _skip_disabled(conn, states=("pending",), url=None)


async def _skip_disabled(conn: AsyncConnection, *, states: Sequence[str], url: str | None) -> int:
    # A skipped claim was never posted: its attempt is not counted.
    result = await conn.execute(
        text(f"""UPDATE {S}.webhook_deliveries w SET state = 'disabled',
              attempts = w.attempts - CASE WHEN w.state = 'sending' THEN 1 ELSE 0 END,
              last_error = 'endpoint disabled (' || COALESCE(e.disabled_reason, 'no reason') || '); not sent'
            FROM {S}.webhook_endpoints e
            WHERE e.id = w.endpoint_id AND e.disabled_at IS NOT NULL AND w.state = ANY(:states)
              AND (CAST(:u AS text) IS NULL OR e.url = :u)"""),
        {"states": list(states), "u": url},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def still_claimed(conn: AsyncConnection, delivery_id: str, *, claimed_at: datetime) -> bool:
    """Right before posting: the claim holds and its endpoint is live (a 410 elsewhere may have disabled it)."""
    await conn.execute(
        text(f"""UPDATE {S}.webhook_deliveries w SET state = 'disabled', attempts = w.attempts - 1,
              last_error = 'endpoint disabled (' || COALESCE(e.disabled_reason, 'no reason') || '); not sent'
            FROM {S}.webhook_endpoints e
            WHERE w.id = :id AND e.id = w.endpoint_id AND e.disabled_at IS NOT NULL
              AND w.state = 'sending' AND w.claimed_at = :c"""),
        {"id": delivery_id, "c": claimed_at},
    )
    found = await conn.scalar(
        text(f"SELECT 1 FROM {S}.webhook_deliveries WHERE id = :id AND state = 'sending' AND claimed_at = :c"),
        {"id": delivery_id, "c": claimed_at},
    )
    return found is not None


async def insert_webhook(
    conn: AsyncConnection, *, delivery_id: str, endpoint_id: str, event_type: str, payload: Any, now: datetime
) -> None:
    await conn.execute(
        text(f"""INSERT INTO {S}.webhook_deliveries (id, endpoint_id, event_type, payload, created_at)
            VALUES (:id, :e, :t, CAST(:p AS jsonb), :now) ON CONFLICT (id) DO NOTHING"""),
        {"id": delivery_id, "e": endpoint_id, "t": event_type, "p": json.dumps(payload, default=str), "now": now},
    )


async def claim_webhooks(
    conn: AsyncConnection, *, wall_now: datetime, limit: int, endpoint_ids: Sequence[str]
) -> list[Row]:
    """Due webhooks of the endpoints this instance configures; another instance's are left to it."""
    rows = await conn.execute(
        text(f"""UPDATE {S}.webhook_deliveries w SET state = 'sending', claimed_at = :now, attempts = w.attempts + 1,
              first_attempt_at = COALESCE(w.first_attempt_at, :now)
            FROM {S}.webhook_endpoints e
            WHERE e.id = w.endpoint_id AND e.disabled_at IS NULL AND w.id IN (
              SELECT id FROM {S}.webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= :now
                AND endpoint_id = ANY(:ids)
              ORDER BY next_attempt_at LIMIT :n FOR UPDATE SKIP LOCKED)
            RETURNING w.*, e.url, e.kind, e.secret, e.disabled_at"""),
        {"now": wall_now, "n": limit, "ids": list(endpoint_ids)},
    )
    return [dict(r) for r in rows.mappings()]


async def set_webhook_state(
    conn: AsyncConnection,
    delivery_id: str,
    *,
    claimed_at: datetime,
    state: str,
    error: str | None,
    next_attempt_at: datetime | None,
) -> bool:
    """Record a post's result while its claim holds. 'delivered' is recorded whatever happened meanwhile
    (it was posted); a failure or retry is not, if the row was recorded otherwise (disabled) since."""
    result = await conn.execute(
        text(f"""UPDATE {S}.webhook_deliveries SET state = :s, last_error = :e,
              next_attempt_at = COALESCE(:next, next_attempt_at)
            WHERE id = :id AND ((state = 'sending' AND claimed_at = :c) OR :s = 'delivered')"""),
        {"id": delivery_id, "s": state, "e": error, "next": next_attempt_at, "c": claimed_at},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_stale_webhooks(conn: AsyncConnection, *, claimed_before: datetime) -> int:
    """Webhooks a crashed process left 'sending' go back to pending: receivers drop repeats by webhook-id."""
    result = await conn.execute(
        text(f"UPDATE {S}.webhook_deliveries SET state = 'pending' WHERE state = 'sending' AND claimed_at < :t"),
        {"t": claimed_before},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
