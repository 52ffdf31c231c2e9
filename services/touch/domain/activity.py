"""What touch keeps of an account's product use, from the events topic. Pure and small.

Per account: usage events per UTC day and the days with a login (the last ``RETAIN_DAYS`` days),
the features it used (first and last day, at most ``MAX_FEATURES``), and when the current usage
decline was detected. From these come three things the playbooks need:

- recovery: the recent use (the days after the decline was detected, at most the last
  ``recent_days``) against the account's own level before the drop, per day: the ``baseline_days``
  before the ``skip_days`` the decline was measured over (health's 30-day trend window), so the
  drop itself does not lower the bar; recovered when recent >= ``recovery_ratio`` x before;
- daily use: at least ``daily_use_days`` distinct login days within the last ``daily_use_window``;
- the features to offer in a feature survey: newly used since a date first, then the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

RETAIN_DAYS = 100  # the baseline 30-60 days before a decline, plus the weeks a risk run watches
FEATURE_RETAIN_DAYS = 180
MAX_FEATURES = 40
MAX_OFFERED_FEATURES = 6


def day_of(t: datetime) -> int:
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).date().toordinal()


@dataclass(frozen=True)
class UsageRules:
    recent_days: int = 7
    baseline_days: int = 30
    skip_days: int = 30  # the days before the detection the decline was measured over
    recovery_ratio: float = 0.8
    daily_use_days: int = 7
    daily_use_window: int = 14


@dataclass(frozen=True)
class Activity:
    usage: Mapping[int, int] = field(default_factory=dict)  # day ordinal -> usage events
    login_days: frozenset[int] = frozenset()
    features: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # feature -> (first day, last day)
    declined_at: datetime | None = None  # the current decline was detected then (None: not declined)

    def to_dict(self) -> dict[str, Any]:
        return {
            "usage": {str(d): n for d, n in sorted(self.usage.items())},
            "login_days": sorted(self.login_days),
            "features": {f: list(days) for f, days in self.features.items()},
            "declined_at": self.declined_at.isoformat() if self.declined_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Activity:
        if not data:
            return cls()
        declined = data.get("declined_at")
        return cls(
            usage={int(d): int(n) for d, n in (data.get("usage") or {}).items()},
            login_days=frozenset(int(d) for d in data.get("login_days") or ()),
            features={str(f): (int(v[0]), int(v[1])) for f, v in (data.get("features") or {}).items()},
            declined_at=datetime.fromisoformat(declined) if declined else None,
        )


def record_use(activity: Activity, *, at: datetime, login: bool, feature: str | None) -> Activity:
    """One usage event (track, page, screen) folded in; old days and features dropped."""
    today = day_of(at)
    usage = {d: n for d, n in activity.usage.items() if d > today - RETAIN_DAYS}
    usage[today] = usage.get(today, 0) + 1
    logins = activity.login_days
    if login:
        logins = frozenset(d for d in logins if d > today - RETAIN_DAYS) | {today}
    features = dict(activity.features)
    if feature:
        first, last = features.get(feature, (today, today))
        features[feature] = (min(first, today), max(last, today))
        kept = [f for f, (_, last) in features.items() if last > today - FEATURE_RETAIN_DAYS]
        kept.sort(key=lambda f: (-features[f][1], f))
        features = {f: features[f] for f in kept[:MAX_FEATURES]}
    return replace(activity, usage=usage, login_days=logins, features=features)


def note_decline(activity: Activity, *, at: datetime) -> Activity:
    """The first decline signal since the last recovery marks when the decline was detected."""
    return activity if activity.declined_at is not None else replace(activity, declined_at=at)


def clear_decline(activity: Activity) -> Activity:
    return replace(activity, declined_at=None)


def recovered(activity: Activity, *, at: datetime, rules: UsageRules) -> bool:
    """Recent use per day is back to ``recovery_ratio`` of the level before the decline.

    Only days after the detection day count as recent, so the decline itself never looks like
    a recovery. The level before the drop is the ``baseline_days`` ending ``skip_days`` before the
    detection; an account without history that old is compared with the days it has before the
    detection. With no use at all before (a long silence), any use is a recovery."""
    if activity.declined_at is None:
        return False
    detected, today = day_of(activity.declined_at), day_of(at)
    if today <= detected:
        return False
    recent = range(max(detected + 1, today - rules.recent_days + 1), today + 1)
    recent_rate = sum(activity.usage.get(d, 0) for d in recent) / len(recent)
    known = [d for d in activity.usage if d < detected]
    if not known:
        return recent_rate > 0
    end = detected - rules.skip_days
    start = max(end - rules.baseline_days, min(known))
    if start >= end:  # no history from before the measured decline
        end, start = detected, max(detected - rules.baseline_days, min(known))
    before = range(start, end)
    baseline = sum(activity.usage.get(d, 0) for d in before) / len(before)
    if baseline == 0:
        return recent_rate > 0
    return recent_rate >= rules.recovery_ratio * baseline


def usage_per_day(activity: Activity, *, at: datetime, days: int = 14) -> float:
    """Usage events per day over the ``days`` before ``at`` (today included): the usage level a
    run starts from, kept with the run for the effectiveness report."""
    today = day_of(at)
    return round(sum(activity.usage.get(d, 0) for d in range(today - days + 1, today + 1)) / days, 3)


def login_days_within(activity: Activity, *, at: datetime, window: int) -> int:
    today = day_of(at)
    return sum(1 for d in activity.login_days if today - window < d <= today)


def in_daily_use(activity: Activity, *, at: datetime, rules: UsageRules) -> bool:
    return login_days_within(activity, at=at, window=rules.daily_use_window) >= rules.daily_use_days


def offered_features(activity: Activity, *, since: datetime, limit: int = MAX_OFFERED_FEATURES) -> list[str]:
    """Features first used on or after ``since`` (most recent first), then the others used."""
    start = day_of(since)
    by_recency = sorted(activity.features, key=lambda f: (-activity.features[f][1], f))
    new = [f for f in by_recency if activity.features[f][0] >= start]
    rest = [f for f in by_recency if activity.features[f][0] < start]
    return (new + rest)[:limit]
