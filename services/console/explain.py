"""The score's top reasons in the CSM's language, from health's per-measure contributions.

health explains in English (its API's ``explanation``); the page builds the same kind of line
("Engagement · Days since the last login = 12 days: scored 40, costs 9.0 pts") from the numbers,
with the measure, group and unit words from the catalogue, so the Japanese page reads Japanese.
"""

from __future__ import annotations

from collections.abc import Callable

from .models import Contribution, ScoreDetail

RATIOS = frozenset({"active_users_ratio", "key_features_share"})
DAYS = frozenset({"days_since_login", "days_since_contact"})
RATINGS = frozenset({"relationship"})


def points_lost(c: Contribution) -> float:
    """What the measure costs the score: its weight times what it falls short of 100."""
    return c.weight * 100 - c.contribution


def value_text(c: Contribution, t: Callable[..., str]) -> str:
    if c.value is None:
        return t("explain.no_data")
    if c.measure in RATIOS:
        return f"{c.value:.0%}"
    if c.measure == "usage_trend":
        return f"{c.value:+.0%}"
    if c.measure in DAYS:
        return t("explain.days", n=f"{c.value:g}")
    if c.measure in RATINGS:
        return f"{c.value:g}/5"
    return f"{c.value:g}"


def top_reasons(detail: ScoreDetail, t: Callable[..., str], *, limit: int = 3) -> list[str]:
    """The measures costing the most points, most first, then one line per measure with no data."""
    present = sorted((c for c in detail.contributions if not c.missing), key=lambda c: -points_lost(c))
    lines = [
        t(
            "explain.costs",
            group=t(f"group.{c.group}", default=c.group),
            measure=t(f"measure.{c.measure}", default=c.label or c.measure),
            value=value_text(c, t),
            score=f"{c.score or 0:g}",
            points=f"{points_lost(c):.1f}",
        )
        for c in present[:limit]
        if points_lost(c) >= 0.05
    ]
    lines += [
        t("explain.missing", measure=t(f"measure.{c.measure}", default=c.label or c.measure))
        for c in detail.contributions
        if c.missing
    ]
    return lines
