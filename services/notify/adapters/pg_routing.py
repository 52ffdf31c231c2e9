"""Postgres: theme subscriptions (each with its own webhook endpoint), answers not yet routed, the
record of routed answers the weekly digest reads, and the subscription endpoints the webhook loop sends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.endpoints import Endpoint
from ..domain.routing import Comment, DigestLine, Subscription

S = "notify"
Row = Mapping[str, Any]


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        theme=row["theme"],
        team=row["team"],
        kind=row["kind"],
        endpoint_id=row["endpoint_id"],
        created_at=row["created_at"],
    )


async def create_subscription(
    conn: AsyncConnection, subscription: Subscription, *, url: str, secret: str | None, wall_now: datetime
) -> None:
    """The subscription and its endpoint (stamped configured: the webhook loop of every instance sends it)."""
    await conn.execute(
        text(f"""INSERT INTO {S}.webhook_endpoints (id, url, kind, secret, configured_at, subscription_id)
            VALUES (:id, :u, :k, :s, :now, :sub)"""),
        {"id": subscription.endpoint_id, "u": url, "k": subscription.kind, "s": secret, "now": wall_now,
         "sub": subscription.id},
    )  # fmt: skip
    await conn.execute(
        text(f"""INSERT INTO {S}.theme_subscriptions (id, theme, team, kind, url, endpoint_id, created_at)
            VALUES (:id, :theme, :team, :kind, :url, :e, :at)"""),
        {"id": subscription.id, "theme": subscription.theme, "team": subscription.team, "kind": subscription.kind,
         "url": url, "e": subscription.endpoint_id, "at": subscription.created_at},
    )  # fmt: skip


async def list_subscriptions(conn: AsyncConnection, *, theme: str | None = None) -> list[Row]:
    """Live subscriptions (oldest first) with their endpoint's state; never the secret."""
    rows = await conn.execute(
        text(f"""SELECT s.id, s.theme, s.team, s.kind, s.url, s.endpoint_id, s.created_at,
              e.disabled_at, e.disabled_reason
            FROM {S}.theme_subscriptions s JOIN {S}.webhook_endpoints e ON e.id = s.endpoint_id
            WHERE s.deleted_at IS NULL AND (CAST(:t AS text) IS NULL OR s.theme = :t)
            ORDER BY s.created_at, s.id"""),
        {"t": theme},
    )
    return [dict(r) for r in rows.mappings()]


async def live_subscriptions(conn: AsyncConnection) -> list[Subscription]:
    """Subscriptions that are not deleted and whose endpoint a 410 has not disabled."""
    return [_subscription(r) for r in await list_subscriptions(conn) if r["disabled_at"] is None]


async def delete_subscription(
    conn: AsyncConnection, subscription_id: str, *, now: datetime, wall_now: datetime
) -> bool:
    """Deleted, and its endpoint disabled so nothing still queued for it is sent; False if unknown."""
    endpoint = await conn.scalar(
        text(f"""UPDATE {S}.theme_subscriptions SET deleted_at = :now
            WHERE id = :id AND deleted_at IS NULL RETURNING endpoint_id"""),
        {"id": subscription_id, "now": now},
    )
    if endpoint is None:
        return False
    await conn.execute(
        text(f"""UPDATE {S}.webhook_endpoints SET disabled_at = COALESCE(disabled_at, :now),
              disabled_reason = COALESCE(disabled_reason, 'subscription deleted') WHERE id = :id"""),
        {"id": endpoint, "now": wall_now},
    )
    return True


async def subscription_endpoints(conn: AsyncConnection) -> list[Endpoint]:
    """The endpoints of live subscriptions: every instance sends them (they live in the database,
    not in any instance's configuration)."""
    rows = await conn.execute(
        text(f"""SELECT e.id, e.url, e.kind, e.secret FROM {S}.webhook_endpoints e
            JOIN {S}.theme_subscriptions s ON s.endpoint_id = e.id
            WHERE s.deleted_at IS NULL AND e.disabled_at IS NULL ORDER BY e.id""")
    )
    return [Endpoint(id=r["id"], url=r["url"], kind=r["kind"], secret=r["secret"]) for r in rows.mappings()]


async def unrouted(conn: AsyncConnection, *, since: datetime, limit: int) -> list[Row]:
    """Answers given since ``since`` (service clock) whose current answer number was not routed yet,
    oldest first, with the account's name, tier and ARR. An email answer's time is its latest click."""
    rows = await conn.execute(
        text(f"""SELECT a.*, acc.name AS account_name, acc.tier, acc.arr FROM (
              SELECT 'in_app' AS channel, m.id AS source_id, m.answer_seq AS seq, m.account_id, m.template,
                m.answer, m.answered_at
              FROM {S}.inapp_messages m WHERE m.answer IS NOT NULL AND m.answered_at >= :since
              UNION ALL
              SELECT 'email', d.id, d.answer_seq, d.account_id, d.template, d.answer, e.occurred_at
              FROM {S}.deliveries d
              CROSS JOIN LATERAL (SELECT x.occurred_at FROM {S}.link_events x
                                  WHERE x.delivery_id = d.id AND x.kind = 'answer'
                                  ORDER BY x.id DESC LIMIT 1) e
              WHERE d.answer IS NOT NULL AND e.occurred_at >= :since) a
            LEFT JOIN {S}.accounts acc ON acc.account_id = a.account_id
            WHERE NOT EXISTS (SELECT 1 FROM {S}.feedback_routed r
                              WHERE r.channel = a.channel AND r.source_id = a.source_id AND r.seq = a.seq)
            ORDER BY a.answered_at, a.channel, a.source_id LIMIT :n"""),
        {"since": since, "n": limit},
    )
    out: list[Row] = []
    for r in rows.mappings():
        row = dict(r)
        if isinstance(row["answer"], str):
            row["answer"] = json.loads(row["answer"])
        out.append(row)
    return out


async def record_routed(conn: AsyncConnection, comment: Comment, *, themes: list[str], now: datetime) -> bool:
    """Claim the answer for routing: False when another transaction (a replica) already routed it."""
    result = await conn.execute(
        text(f"""INSERT INTO {S}.feedback_routed
              (channel, source_id, seq, account_id, kind, score, comment, themes, answered_at, routed_at)
            VALUES (:c, :s, :q, :a, :k, :score, :comment, :themes, :at, :now)
            ON CONFLICT DO NOTHING RETURNING 1"""),
        {"c": comment.channel, "s": comment.source_id, "q": comment.seq, "a": comment.account_id, "k": comment.kind,
         "score": comment.score, "comment": comment.comment, "themes": themes, "at": comment.answered_at, "now": now},
    )  # fmt: skip
    return result.scalar() is not None


async def digest_lines(conn: AsyncConnection, *, theme: str, start: datetime, end: datetime) -> list[DigestLine]:
    """The latest answer number of each answer on ``theme`` given in [start, end)."""
    rows = await conn.execute(
        text(f"""SELECT DISTINCT ON (channel, source_id) account_id, kind, score, comment, answered_at
            FROM {S}.feedback_routed
            WHERE themes @> ARRAY[CAST(:t AS text)] AND answered_at >= :start AND answered_at < :end
            ORDER BY channel, source_id, seq DESC"""),
        {"t": theme, "start": start, "end": end},
    )
    return [DigestLine(r["account_id"], r["kind"], r["score"], r["comment"], r["answered_at"]) for r in rows.mappings()]


async def webhook_exists(conn: AsyncConnection, delivery_id: str) -> bool:
    found = await conn.scalar(text(f"SELECT 1 FROM {S}.webhook_deliveries WHERE id = :id"), {"id": delivery_id})
    return found is not None
