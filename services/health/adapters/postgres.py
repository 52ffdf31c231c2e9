"""The health repository on one SQLAlchemy connection (asyncpg): bulk reads and writes with unnest."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.db import first_seen

from ..domain.account import Published
from ..domain.aggregates import LifecycleFact
from ..domain.codec import state_from_dict, state_to_dict
from ..domain.overrides import Override
from ..ports import AccountRecord, Scored

SCHEMA = "health"

_SELECT = """SELECT account_id, version, state::text AS state, overrides::text AS overrides,
    published::text AS published, score, computed_score, band, overridden"""
# Locked in key order (the decay sweep takes the same rows, skipping locked ones). The stored
# data comes back only for accounts whose version differs from the one the cache holds.
_LOAD_CACHED = text(
    """SELECT a.account_id, a.version,
        CASE WHEN a.version = c.v THEN NULL ELSE a.state::text END AS state,
        CASE WHEN a.version = c.v THEN NULL ELSE a.overrides::text END AS overrides,
        CASE WHEN a.version = c.v THEN NULL ELSE a.published::text END AS published,
        a.score, a.computed_score, a.band, a.overridden
    FROM health.accounts AS a
    LEFT JOIN unnest(CAST(:ids AS text[]), CAST(:vs AS bigint[])) AS c(id, v) ON c.id = a.account_id
    WHERE a.account_id = ANY(CAST(:ids AS text[])) ORDER BY a.account_id FOR UPDATE OF a"""
)

_COLUMNS = """state = u.s::json, overrides = u.o::json, published = u.p::json, scorecard = u.sc, score = u.score,
    computed_score = u.cs, band = u.b, overridden = u.ov, measures = u.m::json, plan = u.pl, tier = u.ti,
    trend_7d = u.t7, trend_30d = u.t30, usage_trend = u.ut, days_since_login = u.dsl, as_of = u.ao,
    next_aging_at = u.na, version = :version, updated_at = :now"""
_SOURCE = """unnest(CAST(:a AS text[]), CAST(:s AS text[]), CAST(:o AS text[]), CAST(:p AS text[]),
    CAST(:sc AS text[]), CAST(:score AS float8[]), CAST(:cs AS float8[]), CAST(:b AS text[]),
    CAST(:ov AS bool[]), CAST(:m AS text[]), CAST(:pl AS text[]), CAST(:ti AS text[]),
    CAST(:t7 AS float8[]), CAST(:t30 AS float8[]), CAST(:ut AS float8[]), CAST(:dsl AS float8[]),
    CAST(:ao AS timestamptz[]), CAST(:na AS timestamptz[]))
    AS u(a, s, o, p, sc, score, cs, b, ov, m, pl, ti, t7, t30, ut, dsl, ao, na)"""
# Accounts loaded (and locked) by this transaction: a plain UPDATE, about 2-3x cheaper than an upsert.
_UPDATE = text(f"UPDATE health.accounts AS t SET {_COLUMNS} FROM {_SOURCE} WHERE t.account_id = u.a")
# New accounts: an insert, made safe against a concurrent first insert by the conflict clause.
_INSERT = text(
    f"""INSERT INTO health.accounts AS t (account_id, state, updated_at)
    SELECT u.a, u.s::json, :now FROM {_SOURCE}
    ON CONFLICT (account_id) DO NOTHING"""
)

_HISTORY = text(
    """INSERT INTO health.score_history (account_id, computed_at, score, computed_score, band, scorecard,
        overridden, measures, cause, score_id, recorded_at)
    SELECT a, at, score, cs, b, sc, ov, m::json, cause, sid, :now
    FROM unnest(CAST(:a AS text[]), CAST(:at AS timestamptz[]), CAST(:score AS float8[]), CAST(:cs AS float8[]),
        CAST(:b AS text[]), CAST(:sc AS text[]), CAST(:ov AS bool[]), CAST(:m AS text[]), CAST(:cause AS text[]),
        CAST(:sid AS text[])) AS t(a, at, score, cs, b, sc, ov, m, cause, sid)"""
)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def measures_json(scored: Scored) -> list[list[Any]]:
    """Compact: [measure, value, score, weight, contribution]; labels, groups and bands come
    from the scorecard when read (see api.expand_measures)."""
    return [
        [m.name, m.value, m.score, round(m.weight, 4), round(m.contribution, 2)]
        for m in scored.rescored.result.measures
    ]


def as_stored(item: Scored) -> AccountRecord:
    """The account as ``save`` stores it (what a load would read back)."""
    r, res = item.rescored, item.rescored.result
    return AccountRecord(
        state=item.record.state,
        overrides=r.overrides,
        published=r.published(),
        exists=True,
        stored=(res.score, res.computed, res.band, res.overridden),
    )


def _record(row: Any) -> AccountRecord:
    published = orjson.loads(row.published) if row.published else None
    return AccountRecord(
        state=state_from_dict(row.account_id, orjson.loads(row.state)),
        overrides=[Override.from_dict(o) for o in orjson.loads(row.overrides)],
        published=Published.from_dict(published),
        stored=(row.score, row.computed_score, row.band, bool(row.overridden)),
    )


class StateCache:
    """The accounts one consumer wrote last, each with the version token that write stored.

    A load hands an account out (it is taken out of the cache, since the batch mutates it) when
    the stored version is still the cached one; a save puts it back with its new token. A write
    by anyone else (decay sweep, override, another replica after a rebalance) or a rolled-back
    transaction leaves a version the cache does not hold, so the account is read again.
    Bounded: the least recently written accounts are dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: dict[str, tuple[int, AccountRecord]] = {}
        self.hits = 0  # accounts handed out from memory
        self.misses = 0  # accounts read from the database (not cached, or changed since)

    def __len__(self) -> int:
        return len(self._items)

    def version(self, account_id: str) -> int | None:
        item = self._items.get(account_id)
        return None if item is None else item[0]

    def take(self, account_id: str, version: int) -> AccountRecord | None:
        """The account if the cache holds this version of it; either way it leaves the cache."""
        item = self._items.pop(account_id, None)
        if item is not None and item[0] == version:
            self.hits += 1
            return item[1]
        return None

    def read_back(self, account_id: str) -> None:
        """The account was read from the database: whatever the cache held of it is stale."""
        self._items.pop(account_id, None)
        self.misses += 1

    def put(self, account_id: str, version: int, record: AccountRecord) -> None:
        self._items.pop(account_id, None)
        self._items[account_id] = (version, record)
        while len(self._items) > self.capacity:
            del self._items[next(iter(self._items))]


class PostgresHealthRepository:
    def __init__(self, conn: AsyncConnection, *, cache: StateCache | None = None) -> None:
        self._conn = conn
        self._cache = cache

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        return await first_seen(self._conn, SCHEMA, ids, now=now)

    async def load(self, account_ids: list[str]) -> dict[str, AccountRecord]:
        if not account_ids:
            return {}
        cache = self._cache
        if cache is not None and cache.capacity > 0:
            rows = await self._conn.execute(
                _LOAD_CACHED, {"ids": account_ids, "vs": [cache.version(a) for a in account_ids]}
            )
            loaded = {}
            for row in rows:
                if row.state is None:
                    record = cache.take(row.account_id, row.version)
                    if record is None:  # lost since the query (cannot happen in one consumer): read all
                        return await self._load_stored(account_ids)
                else:
                    cache.read_back(row.account_id)
                    record = _record(row)
                loaded[row.account_id] = record
            return loaded
        return await self._load_stored(account_ids)

    async def _load_stored(self, account_ids: list[str]) -> dict[str, AccountRecord]:
        rows = await self._conn.execute(
            # Locked in key order: the decay sweep takes the same rows (it skips locked ones).
            text(
                f"{_SELECT} FROM health.accounts WHERE account_id = ANY(CAST(:ids AS text[])) ORDER BY account_id FOR UPDATE"
            ),
            {"ids": account_ids},
        )
        return {row.account_id: _record(row) for row in rows}

    async def load_due(self, *, now: datetime, limit: int) -> dict[str, AccountRecord]:
        rows = await self._conn.execute(
            text(
                f"""{_SELECT} FROM health.accounts WHERE next_aging_at <= :now
                ORDER BY next_aging_at LIMIT :n FOR UPDATE SKIP LOCKED"""
            ),
            {"now": now, "n": limit},
        )
        return {row.account_id: _record(row) for row in rows}

    async def save(self, scored: list[Scored], *, now: datetime) -> None:
        if not scored:
            return
        # One tuple per account, turned into one array per column: runs once per account
        # per batch, so it is kept to plain appends.
        rows: list[tuple[Any, ...]] = []
        hist: list[tuple[Any, ...]] = []
        new: list[tuple[Any, ...]] = []
        for item in scored:
            r, st = item.rescored, item.record.state
            res = r.result
            measures = _dumps(measures_json(item))
            published = r.published()
            traits = st.traits
            row = (
                st.account_id,
                _dumps(state_to_dict(st)),
                _dumps([o.to_dict() for o in r.overrides]) if r.overrides else "[]",
                _dumps(published.to_dict()) if published else None,
                res.scorecard,
                res.score,
                res.computed,
                res.band,
                res.overridden,
                measures,
                _text(traits.get("plan")),
                _text(traits.get("tier")),
                r.trend_7d,
                r.trend_30d,
                r.usage_trend,
                r.days_since_login,
                r.as_of,
                r.next_aging_at,
            )
            rows.append(row)
            if not item.record.exists:
                new.append(row)
            if res.score is None or res.band is None:
                continue
            if not item.score_id and item.record.stored == (res.score, res.computed, res.band, res.overridden):
                continue  # unchanged: the previous history row still tells the story
            hist.append(
                (
                    st.account_id,
                    r.as_of,
                    res.score,
                    res.computed,
                    res.band,
                    res.scorecard,
                    res.overridden,
                    measures,
                    item.cause,
                    item.score_id,
                )
            )
        version = secrets.randbits(62) + 1  # never 0, the column's default
        if new:
            # Inserted at version 0; the update below sets this write's version.
            await self._conn.execute(_INSERT, {**_columns(_ACCOUNT_COLUMNS, new), "now": now})
        await self._conn.execute(_UPDATE, {**_columns(_ACCOUNT_COLUMNS, rows), "now": now, "version": version})
        if hist:
            await self._conn.execute(_HISTORY, {**_columns(_HISTORY_COLUMNS, hist), "now": now})
        if self._cache is not None and self._cache.capacity > 0:
            for item in scored:
                self._cache.put(item.record.state.account_id, version, as_stored(item))

    async def record_lifecycle(self, facts: list[LifecycleFact]) -> None:
        if not facts:
            return
        await self._conn.execute(
            text(
                """INSERT INTO health.lifecycle (event_id, account_id, kind, at)
                SELECT * FROM unnest(CAST(:e AS text[]), CAST(:a AS text[]), CAST(:k AS text[]),
                    CAST(:t AS timestamptz[])) ON CONFLICT (event_id) DO NOTHING"""
            ),
            {
                "e": [f.event_id for f in facts],
                "a": [f.account_id for f in facts],
                "k": [f.kind for f in facts],
                "t": [f.at for f in facts],
            },
        )

    async def log_override(self, account_id: str, *, action: str, override: dict[str, object], now: datetime) -> None:
        await self._conn.execute(
            text(
                """INSERT INTO health.override_log (account_id, action, override, at)
                VALUES (:a, :action, CAST(:o AS json), :now)"""
            ),
            {"a": account_id, "action": action, "o": _dumps(override), "now": now},
        )


_ACCOUNT_COLUMNS = "a s o p sc score cs b ov m pl ti t7 t30 ut dsl ao na".split()
_HISTORY_COLUMNS = "a at score cs b sc ov m cause sid".split()


def _columns(names: list[str], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Rows -> one list per named column (the unnest parameters)."""
    return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}


def _text(value: object) -> str | None:
    return None if value is None else str(value)
