"""Turning measure values into a 0–100 score and a band: scoring functions, missing-data
renormalisation, band hysteresis, overrides."""

from __future__ import annotations

from dataclasses import dataclass
from math import inf

from .overrides import BANDS, Band, Override
from .scorecard import BandThresholds, CompiledMeasure, Linear, Ranges, Scorecard


@dataclass(slots=True)
class MeasureResult:
    name: str
    group: str
    label: str
    aggregate: str
    value: float | None  # raw measured value; None = no data
    score: float | None  # 0..100; None = left out
    configured_weight: float
    weight: float  # normalised weight applied (0 when left out)
    contribution: float  # score * weight, in score points
    missing: bool
    band: Band | None
    pinned: bool = False


@dataclass(frozen=True)
class ScoreResult:
    scorecard: str
    computed: float | None  # the weighted score before any score override
    score: float | None
    computed_band: Band | None  # with hysteresis, before any band override
    band: Band | None
    measures: tuple[MeasureResult, ...]
    overrides: tuple[Override, ...] = ()

    @property
    def overridden(self) -> bool:
        return bool(self.overrides)

    def measure(self, name: str) -> MeasureResult | None:
        return next((m for m in self.measures if m.name == name), None)


def score_function(scoring: Linear | Ranges, value: float) -> float:
    """Map a raw value to 0..100."""
    return scoring.fn(value)


def band_of(score: float, thresholds: BandThresholds) -> Band:
    return _band(score, thresholds.good, thresholds.healthy, thresholds.caution)


def _band(score: float, good: float, healthy: float, caution: float) -> Band:
    if score >= good:
        return "good"
    if score >= healthy:
        return "healthy"
    if score >= caution:
        return "caution"
    return "action_required"


def _band_range(band: Band, t: BandThresholds) -> tuple[float, float]:
    if band == "good":
        return t.good, inf
    if band == "healthy":
        return t.healthy, t.good
    if band == "caution":
        return t.caution, t.healthy
    return -inf, t.caution


def band_with_hysteresis(score: float, thresholds: BandThresholds, *, previous: Band | None, hysteresis: float) -> Band:
    """Keep the previous band while the score stays within ``hysteresis`` points of it,
    so a score hovering at a boundary does not flap."""
    raw = band_of(score, thresholds)
    if previous is None or previous == raw or previous not in BANDS:
        return raw
    low, high = _band_range(previous, thresholds)
    if low - hysteresis <= score < high + hysteresis:
        return previous
    return raw


def score_card(
    card: Scorecard,
    values: dict[str, float | None],
    *,
    previous_band: Band | None,
    overrides: list[Override],
) -> ScoreResult:
    """Weighted score of the measures that have data; missing ones share out their weight.

    Runs once per account per batch: one pass to score, one to build the results, with the
    measure's fields read once (this is the hottest loop of a rescore)."""
    pins = {o.measure: o.score for o in overrides if o.kind == "measure" and o.score is not None} if overrides else {}
    scored: list[tuple[CompiledMeasure, float | None, float | None]] = []
    present = 0.0
    for m in card.compiled:
        value = values.get(m.name)
        if pins and m.name in pins:
            s: float | None = pins[m.name]
        else:
            s = None if value is None else m.fn(value)
        if s is not None:
            present += m.weight
        scored.append((m, value, s))
    results = []
    total = 0.0
    for m, value, s in scored:
        name, configured = m.name, m.weight
        if s is None:
            results.append(
                MeasureResult(name, m.group, m.label, m.aggregate, value, None, configured, 0.0, 0.0, True, None)
            )
            continue
        weight = configured / present
        points = s * weight
        total += points
        good, healthy, caution = m.thresholds
        results.append(
            MeasureResult(
                name, m.group, m.label, m.aggregate, value, round(s, 2), configured, weight, points, False,
                _band(s, good, healthy, caution), bool(pins) and name in pins,
            )
        )  # fmt: skip
    computed = None if present == 0 else round(min(max(total, 0.0), 100.0), 1)
    return _apply_overrides(card, computed, tuple(results), previous_band=previous_band, overrides=overrides)


def _apply_overrides(
    card: Scorecard,
    computed: float | None,
    results: tuple[MeasureResult, ...],
    *,
    previous_band: Band | None,
    overrides: list[Override],
) -> ScoreResult:
    computed_band = (
        None
        if computed is None
        else band_with_hysteresis(computed, card.bands, previous=previous_band, hysteresis=card.hysteresis)
    )
    score, band = computed, computed_band
    for o in overrides:
        if o.kind == "score" and o.score is not None:
            score, band = o.score, band_of(o.score, card.bands)
    for o in overrides:
        if o.kind == "band" and o.band is not None:
            band = o.band
    return ScoreResult(
        scorecard=card.name,
        computed=computed,
        score=score,
        computed_band=computed_band,
        band=band,
        measures=results,
        overrides=tuple(overrides),
    )
