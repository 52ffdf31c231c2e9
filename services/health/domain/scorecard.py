"""Scorecards as data: measures, their sources and scoring functions, bands, segment matching.

Validation is pure (a parsed YAML document in, a ScorecardSet or a pydantic error out); the
adapter that reads the file maps error locations back to YAML lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from math import inf
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Group = Literal["deployment", "engagement", "adoption", "roi", "other"]
GROUPS: tuple[Group, ...] = ("deployment", "engagement", "adoption", "roi", "other")
Aggregate = Literal[
    "active_users_ratio",
    "days_since_login",
    "login_days",
    "days_since_contact",
    "key_features_share",
    "usage_trend",
    "roi",
    "nps",
    "relationship",
    "risk_flags",
    "support_tickets",
]


class _Strict(BaseModel):
    # Unknown keys are refused: a typo in a scorecard must fail start-up, not be ignored.
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class BandThresholds(_Strict):
    good: float = Field(80, ge=0, le=100)
    healthy: float = Field(60, ge=0, le=100)
    caution: float = Field(40, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> BandThresholds:
        if not self.good > self.healthy > self.caution:
            raise ValueError("band thresholds must satisfy good > healthy > caution")
        return self


class Linear(_Strict):
    """Linear between two points (value, score); flat beyond them."""

    type: Literal["linear"]
    from_: tuple[float, Annotated[float, Field(ge=0, le=100)]] = Field(alias="from")
    to: tuple[float, Annotated[float, Field(ge=0, le=100)]]

    @model_validator(mode="after")
    def _distinct(self) -> Linear:
        if self.from_[0] == self.to[0]:
            raise ValueError("linear scoring needs two different values in 'from' and 'to'")
        return self

    @cached_property
    def fn(self) -> Callable[[float], float]:
        """The function as a plain closure (scored on every event: no model access inside)."""
        (x0, s0), (x1, s1) = self.from_, self.to
        span, rise = x1 - x0, s1 - s0

        def linear(value: float) -> float:
            t = (value - x0) / span
            return s0 if t <= 0 else s1 if t >= 1 else s0 + t * rise

        return linear


class Range(_Strict):
    """min inclusive, max exclusive; a missing bound is open."""

    min: float | None = None
    max: float | None = None
    score: float = Field(ge=0, le=100)


class Ranges(_Strict):
    """Thresholds: the first range holding the value gives the score, else ``default``."""

    type: Literal["ranges"]
    ranges: list[Range] = Field(min_length=1)
    default: float = Field(0, ge=0, le=100)

    @cached_property
    def fn(self) -> Callable[[float], float]:
        bounds = [(-inf if r.min is None else r.min, inf if r.max is None else r.max, r.score) for r in self.ranges]
        default = self.default

        def ranges(value: float) -> float:
            for low, high, score in bounds:
                if low <= value < high:
                    return score
            return default

        return ranges


Scoring = Annotated[Linear | Ranges, Field(discriminator="type")]


class Source(_Strict):
    aggregate: Aggregate
    window_days: int = Field(30, ge=1, le=180)
    key_features: list[str] = Field(default_factory=list)
    # Without a key-feature list, breadth is distinct features used over this many.
    expected_features: int = Field(5, ge=1)


class Measure(_Strict):
    name: str = Field(min_length=1)
    group: Group
    label: str | None = None
    weight: float = Field(gt=0)
    source: Source
    scoring: Scoring
    bands: BandThresholds | None = None


@dataclass(frozen=True, slots=True)
class CompiledMeasure:
    """What scoring needs of a measure, as plain attributes."""

    name: str
    group: str
    label: str
    aggregate: str
    weight: float
    fn: Callable[[float], float]
    bands: BandThresholds
    source: Source
    thresholds: tuple[float, float, float]  # the bands' (good, healthy, caution), read on every rescore


def _thresholds(bands: BandThresholds) -> tuple[float, float, float]:
    return (bands.good, bands.healthy, bands.caution)


class Scorecard(_Strict):
    name: str = Field(min_length=1)
    default: bool = False
    # Segment: every listed trait must hold one of the listed values (e.g. plan: [enterprise]).
    match: dict[str, list[str]] = Field(default_factory=dict)
    bands: BandThresholds = Field(default_factory=BandThresholds)
    hysteresis: float = Field(2.0, ge=0, le=20)
    measures: list[Measure] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_measures(self) -> Scorecard:
        seen: set[str] = set()
        for m in self.measures:
            if m.name in seen:
                raise ValueError(f"measure name {m.name!r} is used twice")
            seen.add(m.name)
        return self

    @cached_property
    def compiled(self) -> tuple[CompiledMeasure, ...]:
        return tuple(
            CompiledMeasure(
                name=m.name,
                group=m.group,
                label=m.label or m.name.replace("_", " "),
                aggregate=m.source.aggregate,
                weight=m.weight,
                fn=m.scoring.fn,
                bands=m.bands or self.bands,
                source=m.source,
                thresholds=_thresholds(m.bands or self.bands),
            )
            for m in self.measures
        )

    def measure(self, name: str) -> Measure | None:
        return next((m for m in self.measures if m.name == name), None)

    @cached_property
    def _match_sets(self) -> dict[str, frozenset[str]]:
        return {key: frozenset(v.lower() for v in values) for key, values in self.match.items()}

    def matches(self, traits: dict[str, object]) -> bool:
        if not self.match:
            return False
        for key, allowed in self._match_sets.items():  # every rescore: a plain loop
            value = traits.get(key, "")
            if (value if type(value) is str else str(value)).lower() not in allowed:
                return False
        return True


class ScorecardSet(_Strict):
    scorecards: list[Scorecard] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_default(self) -> ScorecardSet:
        defaults = [c.name for c in self.scorecards if c.default]
        if len(defaults) != 1:
            raise ValueError(f"exactly one scorecard must have default: true (found {len(defaults)})")
        names = [c.name for c in self.scorecards]
        if len(set(names)) != len(names):
            raise ValueError("scorecard names must be unique")
        return self

    def choose(self, traits: dict[str, object]) -> Scorecard:
        """The first non-default scorecard whose segment matches, else the default."""
        for card in self._segmented:
            if card.matches(traits):
                return card
        return self._default

    @cached_property
    def _segmented(self) -> tuple[Scorecard, ...]:
        return tuple(c for c in self.scorecards if not c.default)

    @cached_property
    def _default(self) -> Scorecard:
        return next(c for c in self.scorecards if c.default)

    def by_name(self, name: str) -> Scorecard | None:
        return next((c for c in self.scorecards if c.name == name), None)

    @cached_property
    def retention_days(self) -> int:
        """How many days of buckets the state must keep: trends compare two windows."""
        longest = max(m.source.window_days for c in self.scorecards for m in c.measures)
        return max(2 * longest, 60)

    def measure_names(self) -> set[str]:
        return {m.name for c in self.scorecards for m in c.measures}


def parse_scorecards(document: object) -> ScorecardSet:
    """Validate a parsed YAML document; raises pydantic.ValidationError with field locations.

    Top-level keys starting with ``x-`` are ignored: they hold YAML anchors shared by cards."""
    if isinstance(document, dict):
        document = {k: v for k, v in document.items() if not str(k).startswith("x-")}
    return ScorecardSet.model_validate(document)
