"""The trust report: did past scores predict churn? AUC of the score N days before each outcome."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LifecycleOutcome:
    account_id: str
    churned: bool  # cancelled = True, renewed = False
    at: datetime


@dataclass(frozen=True)
class HorizonResult:
    days: int
    auc: float | None  # None when either class has no scored account
    churned: int  # outcomes with a score that far back
    retained: int
    unscored: int  # outcomes with no score that far back


def auc(*, churned: list[float], retained: list[float]) -> float | None:
    """Probability that a retained account scored higher than a churned one (ties count half).
    1.0 = the score separates them perfectly, 0.5 = no better than a coin."""
    if not churned or not retained:
        return None
    ordered = sorted(retained)
    wins = 0.0
    for c in churned:
        below = bisect.bisect_right(ordered, c)  # retained scoring <= c
        equal = below - bisect.bisect_left(ordered, c)
        wins += (len(ordered) - below) + 0.5 * equal
    return wins / (len(churned) * len(retained))


def score_at(history: list[tuple[datetime, float]], when: datetime) -> float | None:
    """The latest score at or before ``when`` from a time-sorted history."""
    i = bisect.bisect_right(history, when, key=lambda row: row[0])
    return history[i - 1][1] if i else None


def trust_report(
    outcomes: list[LifecycleOutcome],
    history: dict[str, list[tuple[datetime, float]]],
    *,
    horizons: tuple[int, ...] = (30, 60, 90),
) -> list[HorizonResult]:
    results = []
    for days in horizons:
        churned: list[float] = []
        retained: list[float] = []
        unscored = 0
        for o in outcomes:
            s = score_at(history.get(o.account_id, []), o.at - timedelta(days=days))
            if s is None:
                unscored += 1
            else:
                (churned if o.churned else retained).append(s)
        results.append(
            HorizonResult(
                days=days,
                auc=auc(churned=churned, retained=retained),
                churned=len(churned),
                retained=len(retained),
                unscored=unscored,
            )
        )
    return results
