"""Why a score is what it is: overrides, missing data, what moved, what costs the most."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from .overrides import Override
from .scoring import MeasureResult, ScoreResult

_RATIOS = {"active_users_ratio", "key_features_share"}
_DAYS = {"days_since_login", "days_since_contact"}


def format_value(m: MeasureResult) -> str:
    if m.value is None:
        return "no data"
    if m.aggregate in _RATIOS:
        return f"{m.value:.0%}"
    if m.aggregate == "usage_trend":
        return f"{m.value:+.0%}"
    if m.aggregate in _DAYS:
        return f"{m.value:g} days"
    if m.aggregate == "relationship":
        return f"{m.value:g}/5"
    return f"{m.value:g}"


def _head(m: MeasureResult) -> str:
    return f"{m.group.capitalize()} · {m.label}"


def _missing_line(m: MeasureResult, total_weight: float) -> str:
    share = m.configured_weight / total_weight if total_weight else 0.0
    return f"{_head(m)}: no data — left out, its {share:.0%} weight shared by the other measures"


def _scored(m: MeasureResult) -> str:
    pinned = ", pinned" if m.pinned else ""
    return f"{_head(m)} = {format_value(m)}: scored {m.score:g} ({m.band}{pinned})"


def explain(result: ScoreResult, *, previous: dict[str, float] | None = None, limit: int | None = None) -> list[str]:
    """Every line of the explanation (or the first ``limit``), most important first.

    ``previous`` maps measure name -> contribution (points) of the previous score; measures
    whose contribution moved come first, then the ones costing the most points.
    """
    return explain_measures(result.measures, overrides=result.overrides, previous=previous, limit=limit)


def explain_measures(
    measures: Sequence[MeasureResult],
    *,
    overrides: Sequence[Override],
    previous: dict[str, float] | None,
    limit: int | None = None,
) -> list[str]:
    # Ordered first, formatted last: a score event needs only its top lines.
    lines: list[Callable[[], str]] = [o.describe for o in overrides]
    present = [m for m in measures if not m.missing]
    moved: list[tuple[float, MeasureResult]] = []
    if previous is not None:
        deltas = [(m.contribution - previous.get(m.name, 0.0), m) for m in present]
        moved = sorted((d for d in deltas if abs(d[0]) >= 0.05), key=lambda d: -abs(d[0]))
        lines += [partial(_moved_line, m, d) for d, m in moved]
    moved_names = {m.name for _, m in moved}
    rest = sorted((m for m in present if m.name not in moved_names), key=lambda m: -_points_lost(m))
    lines += [partial(_cost_line, m) for m in rest]
    total = sum(m.configured_weight for m in measures)
    lines += [partial(_missing_line, m, total) for m in measures if m.missing]
    return [line() for line in lines[:limit]]


def _moved_line(m: MeasureResult, delta: float) -> str:
    return f"{_scored(m)}, {delta:+.1f} pts since the previous score"


def _cost_line(m: MeasureResult) -> str:
    return f"{_scored(m)}, costs {_points_lost(m):.1f} pts"


def _points_lost(m: MeasureResult) -> float:
    return (100.0 - (m.score or 0.0)) * m.weight


def top_reasons(result: ScoreResult, *, previous: dict[str, float] | None = None, limit: int = 3) -> list[str]:
    return explain(result, previous=previous, limit=limit)


def contributions(result: ScoreResult) -> dict[str, float]:
    return {m.name: m.contribution for m in result.measures}
