"""Per-account rolling aggregates: what one event changes (O(1)) and what a measure reads.

Days are UTC date ordinals (``date.toordinal()``). Event time picks the day bucket; the score's
``as_of`` is the latest event time seen (so a replay of the same events gives the same state),
moved forward by the decay sweep when the clock passes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from touchline.shared.contact import csm_contact

from .scorecard import CompiledMeasure, Source

# The customer answering us is contact too; a CSM's task or logged activity is when shared.contact says.
ANSWER_OUTCOMES = frozenset({"email.answered", "inapp.answered"})
CSM_OUTCOMES = frozenset({"task.completed", "activity.logged"})
USAGE_KINDS = frozenset({"track", "page", "screen"})
LIFECYCLE_SEMANTICS = frozenset({"cancelled", "renewed"})
TRAIT_KEYS = ("name", "plan", "tier", "seats", "business_shrinking", "roi", "lifecycle_stage", "arr")


def day_of(t: datetime) -> int:
    # Runs several times per event: the UTC date without building a converted datetime and
    # a date when the time already is UTC (an aware time's wall clock shifted by its offset).
    offset = t.utcoffset()
    if offset is None:
        return t.astimezone(UTC).date().toordinal()  # naive: local time, as astimezone reads it
    return (t - offset).toordinal() if offset else t.toordinal()


@dataclass
class Latest:
    """A latest-wins answer, ordered by (time, id) so arrival order does not matter."""

    value: float
    at: datetime
    id: str

    def newer_than(self, other: Latest | None) -> bool:
        return other is None or (self.at, self.id) > (other.at, other.id)


@dataclass
class AccountState:
    account_id: str
    as_of: datetime | None = None
    first_day: int | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)  # user -> last active day
    features: dict[str, int] = field(default_factory=dict)  # feature -> last used day
    login_days: set[int] = field(default_factory=set)
    usage: dict[int, int] = field(default_factory=dict)  # day -> usage events
    tickets: dict[int, int] = field(default_factory=dict)  # day -> support tickets opened
    tickets_seen: bool = False
    last_login: datetime | None = None
    last_contact: datetime | None = None
    nps: Latest | None = None
    roi: Latest | None = None
    relationship: Latest | None = None  # the CSM's latest rating (1-5) of a contact that reached the customer
    band: str | None = None  # last computed band (before overrides), for hysteresis
    pruned_day: int | None = None
    daily_scores: dict[int, float] = field(default_factory=dict)  # day -> last score that day

    def advance(self, t: datetime, day: int | None = None) -> None:
        """Move ``as_of`` forward to ``t`` (``day`` = day_of(t) when the caller has it)."""
        if self.as_of is None or t > self.as_of:
            self.as_of = t
        if day is None:
            day = day_of(t)
        if self.first_day is None or day < self.first_day:
            self.first_day = day


@dataclass(frozen=True)
class LifecycleFact:
    """A cancellation or renewal, kept for the trust report."""

    event_id: str
    account_id: str
    kind: str
    at: datetime


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def apply_product_event(
    state: AccountState,
    *,
    event_id: str,
    kind: str,
    semantic: str,
    at: datetime,
    user_id: str | None,
    feature: str | None,
    traits: dict[str, Any],
) -> LifecycleFact | None:
    """Fold one product event into the state; returns a lifecycle fact for cancel/renew."""
    day = day_of(at)
    state.advance(at, day)
    if kind == "group":
        for key in TRAIT_KEYS:
            if key in traits:
                state.traits[key] = traits[key]
        return None
    if kind not in USAGE_KINDS:
        return None
    if semantic == "webinar_attended":
        # Contact with us (one-to-many), not use of the product: engagement's last contact.
        state.last_contact = _later(state.last_contact, at)
        return None
    state.usage[day] = state.usage.get(day, 0) + 1
    if user_id:
        state.users[user_id] = max(day, state.users.get(user_id, day))
    if semantic == "login":
        state.login_days.add(day)
        state.last_login = _later(state.last_login, at)
    elif semantic == "feature_used" and feature:
        state.features[feature] = max(day, state.features.get(feature, day))
    elif semantic == "support_ticket":
        state.tickets[day] = state.tickets.get(day, 0) + 1
        state.tickets_seen = True
    elif semantic in LIFECYCLE_SEMANTICS:
        return LifecycleFact(event_id=event_id, account_id=state.account_id, kind=semantic, at=at)
    return None


def apply_outcome(
    state: AccountState,
    *,
    outcome_id: str,
    kind: str,
    at: datetime,
    answer: dict[str, Any] | None,
    detail: str = "",
    activity: dict[str, Any] | None = None,
) -> None:
    """CSM/customer contact, survey answers (NPS, ROI) and relationship ratings. A task closed undone
    or as "customer unreachable", an activity that did not reach the customer and a note are no
    contact (``touchline.shared.contact``), and their rating is not read."""
    state.advance(at)
    if kind in CSM_OUTCOMES:
        if not csm_contact(kind=kind, detail=detail, activity=activity):
            return
        state.last_contact = _later(state.last_contact, at)
        rating = _number((activity or {}).get("relationship"))
        latest = Latest(value=rating, at=at, id=outcome_id) if rating is not None else None
        if latest is not None and latest.newer_than(state.relationship):
            state.relationship = latest
        return
    if kind not in ANSWER_OUTCOMES:
        return
    state.last_contact = _later(state.last_contact, at)
    if not answer:
        return
    score = answer.get("score")
    if not isinstance(score, int | float) or isinstance(score, bool):
        return
    latest = Latest(value=float(score), at=at, id=outcome_id)
    if answer.get("survey") == "nps" and latest.newer_than(state.nps):
        state.nps = latest
    elif answer.get("survey") == "roi" and latest.newer_than(state.roi):
        state.roi = latest


def prune(state: AccountState, *, retention_days: int) -> None:
    """Drop buckets that no window can reach any more (keeps the state bounded)."""
    if state.as_of is None or state.pruned_day == day_of(state.as_of):
        return  # nothing can have left the windows since the last prune, the same day
    state.pruned_day = day_of(state.as_of)
    oldest = day_of(state.as_of) - retention_days
    state.users = {u: d for u, d in state.users.items() if d > oldest}
    state.features = {f: d for f, d in state.features.items() if d > oldest}
    state.login_days = {d for d in state.login_days if d > oldest}
    state.usage = {d: n for d, n in state.usage.items() if d > oldest}
    state.tickets = {d: n for d, n in state.tickets.items() if d > oldest}
    state.daily_scores = {d: s for d, s in state.daily_scores.items() if d > day_of(state.as_of) - 31}


def _days_since(t: datetime | None, *, fallback_day: int | None, today: int) -> float | None:
    # Never seen: count from when the account was first seen, so silence still ages.
    start = day_of(t) if t is not None else fallback_day
    return None if start is None else float(max(today - start, 0))


def usage_trend(state: AccountState, *, today: int, window: int = 30) -> float | None:
    """Usage of the last window vs the one before, as a fraction (-0.6 = fell 60 %), in [-1, 1]."""
    current = previous = 0
    for d, n in state.usage.items():
        age = today - d
        if 0 <= age < window:
            current += n
        elif window <= age < 2 * window:
            previous += n
    if previous == 0:
        return None
    return max(-1.0, min(1.0, (current - previous) / previous))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _active_users_ratio(state: AccountState, source: Source, today: int) -> float | None:
    seats = _number(state.traits.get("seats"))
    if not seats or seats <= 0:
        return None
    low = today - source.window_days
    return sum(1 for d in state.users.values() if low < d <= today) / seats


def _days_since_login(state: AccountState, source: Source, today: int) -> float | None:
    return _days_since(state.last_login, fallback_day=state.first_day, today=today)


def _days_since_contact(state: AccountState, source: Source, today: int) -> float | None:
    return _days_since(state.last_contact, fallback_day=state.first_day, today=today)


def _login_days(state: AccountState, source: Source, today: int) -> float | None:
    if state.first_day is None:
        return None
    low = today - source.window_days
    return float(sum(1 for d in state.login_days if low < d <= today))


def _key_features_share(state: AccountState, source: Source, today: int) -> float | None:
    low = today - source.window_days
    used = {f for f, d in state.features.items() if low < d <= today}
    if source.key_features:
        return len(used & set(source.key_features)) / len(set(source.key_features))
    return min(len(used) / source.expected_features, 1.0) if state.first_day is not None else None


def _usage_trend(state: AccountState, source: Source, today: int) -> float | None:
    return usage_trend(state, today=today, window=source.window_days)


def _roi(state: AccountState, source: Source, today: int) -> float | None:
    return state.roi.value if state.roi else _number(state.traits.get("roi"))


def _nps(state: AccountState, source: Source, today: int) -> float | None:
    return state.nps.value if state.nps else None


def _relationship(state: AccountState, source: Source, today: int) -> float | None:
    return state.relationship.value if state.relationship else None


def _risk_flags(state: AccountState, source: Source, today: int) -> float | None:
    if "business_shrinking" not in state.traits:
        return None
    return 1.0 if state.traits.get("business_shrinking") in (True, "true", "yes", 1) else 0.0


def _support_tickets(state: AccountState, source: Source, today: int) -> float | None:
    if not state.tickets_seen:
        return None
    low = today - source.window_days
    return float(sum(n for d, n in state.tickets.items() if low < d <= today))


# One reader per aggregate (a dict lookup: this runs for every measure of every rescore).
_READERS: dict[str, Callable[[AccountState, Source, int], float | None]] = {
    "active_users_ratio": _active_users_ratio,
    "days_since_login": _days_since_login,
    "days_since_contact": _days_since_contact,
    "login_days": _login_days,
    "key_features_share": _key_features_share,
    "usage_trend": _usage_trend,
    "roi": _roi,
    "nps": _nps,
    "relationship": _relationship,
    "risk_flags": _risk_flags,
    "support_tickets": _support_tickets,
}


def measure_values(state: AccountState, measures: Iterable[CompiledMeasure], *, today: int) -> dict[str, float | None]:
    """The raw value of each measure (None = no data), as of ``today``."""
    readers = _READERS
    return {m.name: readers[m.aggregate](state, m.source, today) for m in measures}


def measure_value(state: AccountState, source: Source, *, today: int) -> float | None:
    """The raw value a measure scores, or None when there is no data for it.

    A window of ``w`` days holds the days ``today - w < day <= today``."""
    reader = _READERS.get(source.aggregate)
    return None if reader is None else reader(state, source, today)
