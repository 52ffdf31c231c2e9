"""Read side for the API and the trust report (plain SELECTs, no locks)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.shared.messages import BANDS_WORST_FIRST

from ..domain.trust import LifecycleOutcome
from ..domain.usage import UsageRow
from ..learn.snapshot import Snapshot

_BAND_LIST = ",".join(f"'{band}'" for band in BANDS_WORST_FIRST)
_BAND_RANK = f"array_position(ARRAY[{_BAND_LIST}], band)"  # 1 = the worst band

SORTS = {
    "score": "score ASC",
    "-score": "score DESC",
    "trend_7d": "trend_7d ASC NULLS LAST",
    "-trend_7d": "trend_7d DESC NULLS LAST",
    "trend_30d": "trend_30d ASC NULLS LAST",
    "-trend_30d": "trend_30d DESC NULLS LAST",
    # worst band first
    "band": f"{_BAND_RANK}, score",
    "-band": f"{_BAND_RANK} DESC, score DESC",
    "account_id": "account_id",
}
_SUMMARY = """account_id, score, computed_score, band, scorecard, overridden, plan, tier, trend_7d, trend_30d,
    usage_trend, days_since_login, as_of, updated_at"""


async def list_accounts(
    engine: AsyncEngine,
    *,
    bands: list[str] | None,
    tier: str | None,
    plan: str | None,
    min_score: float | None,
    max_score: float | None,
    sort: str,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    where = ["score IS NOT NULL"]
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    for clause, key, value in (
        ("band = ANY(CAST(:bands AS text[]))", "bands", bands or None),
        ("tier = :tier", "tier", tier),
        ("plan = :plan", "plan", plan),
        ("score >= :min_score", "min_score", min_score),
        ("score <= :max_score", "max_score", max_score),
    ):
        if value is not None:
            where.append(clause)
            params[key] = value
    sql = (
        f"SELECT {_SUMMARY} FROM health.accounts WHERE {' AND '.join(where)} "
        f"ORDER BY {SORTS[sort]}, account_id LIMIT :limit OFFSET :offset"
    )
    async with engine.connect() as conn:
        rows = await conn.execute(text(sql), params)
        return [dict(r._mapping) for r in rows]


async def get_account(engine: AsyncEngine, account_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    f"""SELECT {_SUMMARY}, measures, overrides, published, next_aging_at
                    FROM health.accounts WHERE account_id = :a"""
                ),
                {"a": account_id},
            )
        ).first()
    return dict(row._mapping) if row else None


async def history(engine: AsyncEngine, account_id: str, *, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                """SELECT computed_at, score, computed_score, band, scorecard, overridden, cause, score_id, measures
                FROM health.score_history WHERE account_id = :a AND (CAST(:since AS timestamptz) IS NULL
                    OR computed_at >= :since)
                ORDER BY computed_at DESC, id DESC LIMIT :limit"""
            ),
            {"a": account_id, "since": since, "limit": limit},
        )
        return [dict(r._mapping) for r in rows]


async def trust_inputs(
    engine: AsyncEngine,
) -> tuple[list[LifecycleOutcome], dict[str, list[tuple[datetime, float]]]]:
    """Lifecycle outcomes and the computed-score history of those accounts (overrides excluded:
    the report measures the scorecard, not the CSMs)."""
    async with engine.connect() as conn:
        facts = await conn.execute(text("SELECT account_id, kind, at FROM health.lifecycle ORDER BY at"))
        outcomes = [LifecycleOutcome(r.account_id, r.kind == "cancelled", r.at) for r in facts]
        rows = await conn.execute(
            text(
                """SELECT account_id, computed_at, computed_score FROM health.score_history
                WHERE computed_score IS NOT NULL
                  AND account_id IN (SELECT DISTINCT account_id FROM health.lifecycle)
                ORDER BY account_id, computed_at, id"""
            )
        )
        hist: dict[str, list[tuple[datetime, float]]] = {}
        for r in rows:
            hist.setdefault(r.account_id, []).append((r.computed_at, r.computed_score))
    return outcomes, hist


async def learning_snapshots(engine: AsyncEngine, *, scorecard: str, horizons: tuple[int, ...]) -> list[Snapshot]:
    """For each lifecycle outcome and horizon, the raw measure values of the latest score at or
    before that many days earlier, when that score came from ``scorecard`` (the segment's card
    then). One indexed lookup per outcome and horizon (score_history_account)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                """SELECT l.account_id, l.kind, l.at, h.days, s.measures
                FROM health.lifecycle l
                CROSS JOIN unnest(CAST(:horizons AS int[])) AS h(days)
                JOIN LATERAL (
                    SELECT sh.scorecard, sh.measures FROM health.score_history sh
                    WHERE sh.account_id = l.account_id
                      AND sh.computed_at <= l.at - make_interval(days => h.days)
                    ORDER BY sh.computed_at DESC, sh.id DESC LIMIT 1) s ON true
                WHERE s.scorecard = :card
                ORDER BY l.account_id, l.at, h.days"""
            ),
            {"horizons": list(horizons), "card": scorecard},
        )
        return [
            Snapshot(
                account_id=r.account_id,
                churned=r.kind == "cancelled",
                outcome_at=r.at,
                days_before=r.days,
                values={name: value for name, value, *_ in r.measures},
            )
            for r in rows
        ]


async def usage_rows(
    engine: AsyncEngine, *, measure: str, at: datetime, since: datetime, until: datetime, account_id: str | None
) -> list[UsageRow]:
    """The ``measure`` values stored in [since, until): the latest row per account and UTC day on
    each side of ``at`` (the rule domain.usage applies; done here too so a busy account's rescores
    are not all shipped). Rows without a numeric value of the measure are left out."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                """SELECT DISTINCT ON (sh.account_id, sh.computed_at < :at,
                    date_trunc('day', sh.computed_at AT TIME ZONE 'UTC'))
                  sh.account_id, sh.computed_at, CAST(m.value ->> 1 AS double precision) AS value
                FROM health.score_history sh
                CROSS JOIN LATERAL json_array_elements(
                  CASE WHEN json_typeof(sh.measures) = 'array' THEN sh.measures ELSE CAST('[]' AS json) END) AS m(value)
                WHERE sh.computed_at >= :since AND sh.computed_at < :until
                  AND (CAST(:account AS text) IS NULL OR sh.account_id = :account)
                  AND m.value ->> 0 = :measure AND json_typeof(m.value -> 1) = 'number'
                ORDER BY sh.account_id, sh.computed_at < :at,
                  date_trunc('day', sh.computed_at AT TIME ZONE 'UTC'), sh.computed_at DESC, sh.id DESC"""
            ),
            {"at": at, "since": since, "until": until, "account": account_id, "measure": measure},
        )
        return [UsageRow(r.account_id, r.computed_at.astimezone(UTC), r.value) for r in rows]
