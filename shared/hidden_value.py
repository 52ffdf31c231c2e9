"""Seed 000's "hidden value" signal: an account that scores us low while saying a feature helps it.

A low NPS (a detractor, 0-6) next to a feature-usefulness answer naming features as useful says the
product does something valuable for this customer that has not turned into a good relationship:
the value is not being realised (nobody sees it, it is not where the decision makers look, or it
is outweighed by something else). The CSM is the one to find out which. Pure: the console shows the
flag, notify opens the CSM's task from the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(days=180)  # one NPS round (the seeds survey twice a year)
LOW_NPS = 6  # detractor


@dataclass(frozen=True)
class Said:
    """One survey answer of the account, as the rule needs it."""

    at: datetime
    survey: str  # "nps" | "feature_usefulness" | ...
    score: int | None = None
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class HiddenValue:
    nps: int
    features: tuple[str, ...]  # the features the account called useful, sorted


def value_not_realised(answers: Iterable[Said], *, now: datetime, window: timedelta = WINDOW) -> HiddenValue | None:
    """The signal, when the account's latest NPS within ``window`` is a detractor's and within the same
    window it named at least one feature useful; None otherwise (no NPS, a better one, no feature)."""
    recent = sorted((a for a in answers if now - window <= a.at <= now), key=lambda a: a.at)
    scores = [a.score for a in recent if a.survey == "nps" and a.score is not None]
    if not scores or scores[-1] > LOW_NPS:
        return None
    features = sorted({f for a in recent if a.survey == "feature_usefulness" for f in a.features})
    if not features:
        return None
    return HiddenValue(nps=scores[-1], features=tuple(features))
