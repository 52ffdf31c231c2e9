"""Product usage before and after an instant (a release, a training): pure.

The measure is ``active_users_ratio`` (users active in the trailing 30 days ÷ seats purchased):
of the stored measures it is the level of product use, comparable between accounts of any size;
``usage_trend`` is already a before/after ratio and ``login_days`` counts days, not people.

Rule: per account and UTC day, the latest stored value on each side counts once (an account
rescored ten times a day weighs as much as one rescored once); each account's days are averaged,
then the accounts (a busy account does not outvote a quiet one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

USAGE_MEASURE = "active_users_ratio"
MAX_DAYS = 180


@dataclass(frozen=True)
class UsageRow:
    account_id: str
    at: datetime
    value: float


@dataclass(frozen=True)
class UsageSide:
    mean: float | None  # None: no account had a value on this side
    accounts: int
    rows: int  # account-days behind the mean


@dataclass(frozen=True)
class UsageAround:
    before: UsageSide
    after: UsageSide

    @property
    def change(self) -> float | None:
        if self.before.mean is None or self.after.mean is None:
            return None
        return self.after.mean - self.before.mean


def _side(rows: Iterable[UsageRow]) -> UsageSide:
    latest: dict[tuple[str, date], UsageRow] = {}
    for r in sorted(rows, key=lambda r: r.at):
        latest[(r.account_id, r.at.date())] = r
    per_account: dict[str, list[float]] = {}
    for (account, _), r in latest.items():
        per_account.setdefault(account, []).append(r.value)
    if not per_account:
        return UsageSide(mean=None, accounts=0, rows=0)
    means = [sum(v) / len(v) for v in per_account.values()]
    return UsageSide(mean=sum(means) / len(means), accounts=len(means), rows=len(latest))


def usage_around(rows: Iterable[UsageRow], *, at: datetime, days: int) -> UsageAround:
    """Usage over [at - days, at) against [at, at + days). Rows are expected in UTC (days are UTC
    days). Compared by differences: an instant near either end of the calendar cannot overflow."""
    window = timedelta(days=days)
    rows = list(rows)
    before = _side(r for r in rows if timedelta(0) < at - r.at <= window)
    after = _side(r for r in rows if timedelta(0) <= r.at - at < window)
    return UsageAround(before=before, after=after)
