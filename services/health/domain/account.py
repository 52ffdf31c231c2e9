"""Rescoring one account: pick its scorecard, score as of a time, trends, what to publish,
when it must be looked at again even if nothing happens (time decay)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property
from typing import Any

from touchline.shared.messages import USAGE_DECLINE_SHARE

from .aggregates import AccountState, day_of, measure_values, prune, usage_trend
from .explain import contributions, explain, top_reasons
from .overrides import Band, Override, active, unexpired
from .scorecard import ScorecardSet
from .scoring import ScoreResult, score_card


@dataclass(frozen=True)
class Policy:
    material_change: float = 5.0  # score points that make a change worth publishing
    decline_threshold: float = -USAGE_DECLINE_SHARE  # usage trend at or below which usage counts as declining
    aging_horizon_days: int = 120  # after this long with no activity nothing ages any more


@dataclass(frozen=True)
class Published:
    """What the last published HealthScored said, to decide whether a change is material."""

    score: float
    band: Band
    usage_trend: float | None = None
    overridden: bool = False
    contributions: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "band": self.band,
            "usage_trend": self.usage_trend,
            "overridden": self.overridden,
            "contributions": self.contributions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Published | None:
        if not data:
            return None
        return cls(
            score=float(data["score"]),
            band=data["band"],
            usage_trend=data.get("usage_trend"),
            overridden=bool(data.get("overridden")),
            contributions=dict(data.get("contributions") or {}),
        )


@dataclass(frozen=True)
class Rescored:
    result: ScoreResult
    as_of: datetime
    overrides: list[Override]  # what to keep stored (expired ones dropped)
    trend_7d: float | None
    trend_30d: float | None
    usage_trend: float | None
    days_since_login: float | None
    next_aging_at: datetime | None
    publish: bool
    previous: Published | None

    @cached_property
    def explanation(self) -> list[str]:
        # Built on demand: only published scores and API answers need the text.
        return explain(self.result, previous=self.previous.contributions if self.previous else None)

    @property
    def reasons(self) -> list[str]:
        """The top reasons a score event carries."""
        return top_reasons(self.result, previous=self.previous.contributions if self.previous else None)

    def published(self) -> Published | None:
        """The new 'last published' memory after this rescore."""
        if not self.publish or self.result.score is None or self.result.band is None:
            return self.previous
        return Published(
            score=self.result.score,
            band=self.result.band,
            usage_trend=self.usage_trend,
            overridden=self.result.overridden,
            contributions=contributions(self.result),
        )


def next_midnight(t: datetime) -> datetime:
    return datetime.combine(date.fromordinal(day_of(t) + 1), time(0), tzinfo=UTC)


def _last_activity_day(state: AccountState) -> int | None:
    days = [max(state.usage, default=None), max(state.tickets, default=None), state.first_day]
    days += [day_of(t) for t in (state.last_login, state.last_contact) if t is not None]
    known = [d for d in days if d is not None]
    return max(known) if known else None


def next_aging_at(
    state: AccountState, *, as_of: datetime, overrides: list[Override], horizon_days: int
) -> datetime | None:
    """Measures use whole UTC days, so a score can only age at midnight; accounts idle
    beyond the horizon (or without data) have nothing left to age and are not swept."""
    candidates = [o.expires_at for o in overrides if o.expires_at > as_of]
    last = _last_activity_day(state)
    if last is not None and day_of(as_of) <= last + horizon_days:
        candidates.append(next_midnight(as_of))
    return min(candidates) if candidates else None


def _trend(state: AccountState, *, today: int, days: int, score: float | None) -> float | None:
    if score is None:
        return None
    earlier = [d for d in state.daily_scores if d <= today - days]
    return None if not earlier else round(score - state.daily_scores[max(earlier)], 1)


def _crossed(before: float | None, after: float | None, threshold: float) -> bool:
    def declining(v: float | None) -> bool:
        return v is not None and v <= threshold

    return declining(before) != declining(after)


def should_publish(result: ScoreResult, *, usage: float | None, published: Published | None, policy: Policy) -> bool:
    if result.score is None or result.band is None:
        return False
    if published is None:
        return True
    return (
        result.band != published.band
        or abs(result.score - published.score) >= policy.material_change
        or result.overridden != published.overridden
        or _crossed(published.usage_trend, usage, policy.decline_threshold)
    )


def rescore(
    state: AccountState,
    scorecards: ScorecardSet,
    *,
    as_of: datetime,
    overrides: list[Override],
    published: Published | None,
    policy: Policy,
    force_publish: bool = False,
) -> Rescored:
    """Score ``state`` as of ``as_of`` (mutates the state's memory: band, daily scores)."""
    state.advance(as_of)
    prune(state, retention_days=scorecards.retention_days)
    card = scorecards.choose(state.traits)
    today = day_of(as_of)
    values = measure_values(state, card.compiled, today=today)
    kept = unexpired(overrides, as_of)
    result = score_card(card, values, previous_band=state.band, overrides=active(kept, as_of))  # type: ignore[arg-type]
    state.band = result.computed_band
    if result.computed is not None:
        state.daily_scores[today] = result.computed
    trend = usage_trend(state, today=today)
    publish = force_publish or should_publish(result, usage=trend, published=published, policy=policy)
    return Rescored(
        result=result,
        as_of=as_of,
        overrides=kept,
        trend_7d=_trend(state, today=today, days=7, score=result.computed),
        trend_30d=_trend(state, today=today, days=30, score=result.computed),
        usage_trend=trend,
        days_since_login=None if state.last_login is None else float(today - day_of(state.last_login)),
        next_aging_at=next_aging_at(state, as_of=as_of, overrides=kept, horizon_days=policy.aging_horizon_days),
        publish=publish and result.score is not None,
        previous=published,
    )


def score_id(account_id: str, *, cause: str, key: str) -> str:
    """Deterministic: a replay of the same input republishes the same id (consumers dedup)."""
    return hashlib.sha256(f"{account_id}|{cause}|{key}".encode()).hexdigest()[:32]
