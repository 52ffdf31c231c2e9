"""Postgres: contacts directory, preferences, deliveries, link events and the outcome outbox.

Functions take the caller's connection and never commit: the consumer runner, the delivery
loop or an API route owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.messages import Outcome

from ..domain.email import Account, Contact

S = "notify"
Row = Mapping[str, Any]


async def upsert_account(conn: AsyncConnection, *, account_id: str, traits: Mapping[str, Any], now: datetime) -> None:
    """Merge the traits we use; a trait absent from this event keeps its known value."""
    await conn.execute(
        text(f"""INSERT INTO {S}.accounts (account_id, name, csm_owner, locale, tier, arr, updated_at)
            VALUES (:a, :name, :owner, :locale, :tier, :arr, :now)
            ON CONFLICT (account_id) DO UPDATE SET
              name = COALESCE(EXCLUDED.name, accounts.name), arr = COALESCE(EXCLUDED.arr, accounts.arr),
              csm_owner = COALESCE(EXCLUDED.csm_owner, accounts.csm_owner),
              locale = COALESCE(EXCLUDED.locale, accounts.locale),
              tier = COALESCE(EXCLUDED.tier, accounts.tier), updated_at = EXCLUDED.updated_at"""),
        {
            "a": account_id,
            "name": _str(traits.get("name")),
            "owner": _str(traits.get("csm_owner")),
            "locale": _str(traits.get("locale")),
            "tier": _str(traits.get("tier")),
            "arr": _amount(traits.get("arr")),  # for the feedback routed to product teams
            "now": now,
        },
    )


async def upsert_contact(
    conn: AsyncConnection, *, account_id: str, user_id: str, traits: Mapping[str, Any], now: datetime
) -> None:
    await conn.execute(
        text(f"""INSERT INTO {S}.contacts (account_id, user_id, email, name, locale, role, updated_at)
            VALUES (:a, :u, :email, :name, :locale, :role, :now)
            ON CONFLICT (account_id, user_id) DO UPDATE SET
              email = COALESCE(EXCLUDED.email, contacts.email), name = COALESCE(EXCLUDED.name, contacts.name),
              locale = COALESCE(EXCLUDED.locale, contacts.locale), role = COALESCE(EXCLUDED.role, contacts.role),
              updated_at = EXCLUDED.updated_at"""),
        {
            "a": account_id,
            "u": user_id,
            "email": _str(traits.get("email")),
            "name": _str(traits.get("name")),
            "locale": _str(traits.get("locale")),
            "role": _str(traits.get("role")),
            "now": now,
        },
    )


def _amount(value: Any) -> float | None:
    """A number trait (ARR); anything else (a string, a bool, NaN) is no known value."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _account(row: Any) -> Account:
    return Account(row["account_id"], row["name"], row["csm_owner"], row["locale"], row["tier"])


def _contact(row: Any) -> Contact:
    return Contact(row["user_id"], row["email"], row["name"], row["locale"], row["role"])


async def get_account(conn: AsyncConnection, account_id: str) -> Account | None:
    return (await accounts_of(conn, [account_id])).get(account_id)


async def list_contacts(conn: AsyncConnection, account_id: str) -> list[Contact]:
    return (await contacts_of(conn, [account_id])).get(account_id, [])


async def accounts_of(conn: AsyncConnection, account_ids: Sequence[str]) -> dict[str, Account]:
    """The known accounts among ``account_ids``, in one statement."""
    rows = await conn.execute(text(f"SELECT * FROM {S}.accounts WHERE account_id = ANY(:a)"), {"a": list(account_ids)})
    return {r["account_id"]: _account(r) for r in rows.mappings()}


async def contacts_of(conn: AsyncConnection, account_ids: Sequence[str]) -> dict[str, list[Contact]]:
    """The contacts of each of ``account_ids`` (by user id), in one statement."""
    rows = await conn.execute(
        text(f"SELECT * FROM {S}.contacts WHERE account_id = ANY(:a) ORDER BY account_id, user_id"),
        {"a": list(account_ids)},
    )
    found: dict[str, list[Contact]] = {}
    for r in rows.mappings():
        found.setdefault(r["account_id"], []).append(_contact(r))
    return found


async def unsubscribed(conn: AsyncConnection, emails: Iterable[str]) -> set[str]:
    rows = await conn.execute(
        text(f"SELECT email FROM {S}.preferences WHERE email = ANY(:e) AND unsubscribed_at IS NOT NULL"),
        {"e": [e.lower() for e in emails]},
    )
    return {r.email for r in rows}


async def unsubscribe(conn: AsyncConnection, *, email: str, account_id: str, via: str, now: datetime) -> bool:
    """True when this address was subscribed until now."""
    row = await conn.execute(
        text(f"""INSERT INTO {S}.preferences (email, unsubscribed_at, account_id, via) VALUES (:e, :now, :a, :via)
            ON CONFLICT (email) DO UPDATE SET unsubscribed_at = EXCLUDED.unsubscribed_at, via = EXCLUDED.via
            WHERE preferences.unsubscribed_at IS NULL RETURNING email"""),
        {"e": email.lower(), "now": now, "a": account_id, "via": via},
    )
    return row.first() is not None


async def insert_delivery(conn: AsyncConnection, row: Mapping[str, Any]) -> bool:
    """False when this command (or dedup key) already reached this address: redelivery is a no-op."""
    cols = ", ".join(row)
    params = ", ".join(f":{k}" for k in row)
    result = await conn.execute(
        text(f"INSERT INTO {S}.deliveries ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING RETURNING id"), dict(row)
    )
    return result.first() is not None


async def claim_due(conn: AsyncConnection, *, wall_now: datetime, limit: int) -> list[Row]:
    """Take pending deliveries that are due; another replica skips the rows we lock."""
    rows = await conn.execute(
        text(f"""UPDATE {S}.deliveries d SET state = 'sending', claimed_at = :now, attempts = d.attempts + 1,
              first_attempt_at = COALESCE(d.first_attempt_at, :now)
            WHERE d.id IN (SELECT id FROM {S}.deliveries WHERE state = 'pending' AND next_attempt_at <= :now
                           ORDER BY next_attempt_at LIMIT :n FOR UPDATE SKIP LOCKED)
            RETURNING d.*"""),
        {"now": wall_now, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]


async def resend_unknown(conn: AsyncConnection, *, claimed_before: datetime, wall_now: datetime) -> list[Row]:
    """Deliveries a crashed process left in 'sending' (claimed before ``claimed_before``): whether
    the server accepted them is unknown, so they are due again (at least once; same Message-ID)."""
    rows = await conn.execute(
        text(f"""UPDATE {S}.deliveries SET state = 'pending', next_attempt_at = :now,
              last_error = 'process stopped while sending; sent again with the same Message-ID'
            WHERE id IN (SELECT id FROM {S}.deliveries WHERE state = 'sending' AND claimed_at < :t
                         FOR UPDATE SKIP LOCKED) RETURNING *"""),
        {"t": claimed_before, "now": wall_now},
    )
    return [dict(r) for r in rows.mappings()]


async def set_state(
    conn: AsyncConnection,
    delivery_id: str,
    *,
    claimed_at: datetime,
    state: str,
    error: str | None = None,
    sent_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> bool:
    """Record the result of the claim made at ``claimed_at``; False if the claim is no longer ours."""
    result = await conn.execute(
        text(f"""UPDATE {S}.deliveries SET state = :s, last_error = COALESCE(:e, last_error),
              sent_at = COALESCE(:sent, sent_at), next_attempt_at = COALESCE(:next, next_attempt_at)
            WHERE id = :id AND state = 'sending' AND claimed_at = :claimed RETURNING id"""),
        {"id": delivery_id, "s": state, "e": error, "sent": sent_at, "next": next_attempt_at, "claimed": claimed_at},
    )
    return result.first() is not None


async def get_delivery(conn: AsyncConnection, delivery_id: str) -> Row | None:
    result = await conn.execute(text(f"SELECT * FROM {S}.deliveries WHERE id = :id"), {"id": delivery_id})
    found = result.mappings().first()
    return dict(found) if found is not None else None


async def record_link_event(
    conn: AsyncConnection,
    *,
    delivery_id: str,
    kind: str,
    now: datetime,
    machine: bool = False,
    index: int | None = None,
    url: str | None = None,
) -> bool:
    """Log an open or click and stamp the delivery; True when it is the first of its kind (worth an
    outcome). Answers: ``pg_answers``."""
    await conn.execute(
        text(f"""INSERT INTO {S}.link_events (delivery_id, kind, link_index, url, machine, occurred_at)
            VALUES (:d, :k, :i, :u, :m, :now)"""),
        {"d": delivery_id, "k": kind, "i": index, "u": url, "m": machine, "now": now},
    )
    column = {"open": "opened_at", "click": "clicked_at"}[kind]
    if kind == "open" and machine:
        column = "machine_opened_at"
    first = await conn.execute(
        text(f"""UPDATE {S}.deliveries SET {column} = COALESCE({column}, :now)
            WHERE id = :d AND {column} IS NULL RETURNING id"""),
        {"d": delivery_id, "now": now},
    )
    return first.first() is not None


async def add_outcomes(conn: AsyncConnection, outcomes: Sequence[Outcome]) -> None:
    """Stage outcomes in the caller's transaction; the relay publishes them after commit."""
    if not outcomes:
        return
    await conn.execute(
        text(f"""INSERT INTO {S}.outbox (outcome_id, payload) VALUES (:id, CAST(:p AS jsonb))
            ON CONFLICT (outcome_id) DO NOTHING"""),
        [{"id": o.outcome_id, "p": o.model_dump_json()} for o in outcomes],
    )


async def take_unpublished(conn: AsyncConnection, *, limit: int) -> list[tuple[int, Outcome]]:
    rows = await conn.execute(
        text(f"""SELECT id, payload FROM {S}.outbox WHERE published_at IS NULL ORDER BY id LIMIT :n
            FOR UPDATE SKIP LOCKED"""),
        {"n": limit},
    )
    return [(r.id, Outcome.model_validate(r.payload)) for r in rows]


async def mark_published(conn: AsyncConnection, ids: Sequence[int], *, now: datetime) -> None:
    await conn.execute(
        text(f"UPDATE {S}.outbox SET published_at = :now WHERE id = ANY(:ids)"), {"ids": list(ids), "now": now}
    )


async def account_deliveries(conn: AsyncConnection, account_id: str, *, limit: int) -> list[Row]:
    rows = await conn.execute(
        text(f"""SELECT id, template, email, state, created_at, sent_at, opened_at, machine_opened_at, clicked_at,
              answered_at, answer, subject, playbook, step, last_error
            FROM {S}.deliveries WHERE account_id = :a ORDER BY created_at DESC LIMIT :n"""),
        {"a": account_id, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]
