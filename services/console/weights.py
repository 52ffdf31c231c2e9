"""Can the scores be trusted? The trust report (AUC of past scores) and the hand-set vs learned
weights comparison as the console shows them, mapped from health's answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrustHorizon:
    days: int
    auc: float | None
    churned: int
    retained: int
    unscored: int


@dataclass(frozen=True)
class TrustReport:
    outcomes: int
    horizons: list[TrustHorizon]


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    count: int
    predicted: float | None
    observed: float | None


@dataclass(frozen=True)
class WeightSide:
    auc: float | None
    brier: float | None
    bins: list[CalibrationBin]


@dataclass(frozen=True)
class HorizonComparison:
    days: int
    churned: int
    retained: int
    hand: WeightSide
    learned: WeightSide


@dataclass(frozen=True)
class MeasureWeight:
    measure: str
    hand: float
    learned: float | None
    unsupported: bool


@dataclass(frozen=True)
class WeightsComparison:
    scorecard: str
    proposed: bool
    refused: str | None
    churned_accounts: int
    renewed_accounts: int
    folds: int
    measures: list[MeasureWeight]
    horizons: list[HorizonComparison]


def trust_report(data: dict[str, Any]) -> TrustReport:
    return TrustReport(
        outcomes=int(data.get("outcomes", 0)),
        horizons=[
            TrustHorizon(
                days=int(h["days"]),
                auc=h.get("auc"),
                churned=int(h.get("churned", 0)),
                retained=int(h.get("retained", 0)),
                unscored=int(h.get("unscored", 0)),
            )
            for h in data.get("horizons", [])
        ],
    )


def _side(data: dict[str, Any]) -> WeightSide:
    return WeightSide(
        auc=data.get("auc"),
        brier=data.get("brier"),
        bins=[
            CalibrationBin(
                low=float(b["low"]),
                high=float(b["high"]),
                count=int(b["count"]),
                predicted=b.get("predicted"),
                observed=b.get("observed"),
            )
            for b in data.get("reliability", [])
        ],
    )


def comparison(data: dict[str, Any]) -> WeightsComparison:
    return WeightsComparison(
        scorecard=str(data["scorecard"]),
        proposed=bool(data.get("proposed")),
        refused=data.get("refused"),
        churned_accounts=int(data.get("churned_accounts", 0)),
        renewed_accounts=int(data.get("renewed_accounts", 0)),
        folds=int(data.get("folds", 0)),
        measures=[
            MeasureWeight(
                measure=str(m["measure"]),
                hand=float(m["hand_weight"]),
                learned=m.get("learned_weight"),
                unsupported=bool(m.get("unsupported")),
            )
            for m in data.get("measures", [])
        ],
        horizons=[
            HorizonComparison(
                days=int(h["days"]),
                churned=int(h["churned"]),
                retained=int(h["retained"]),
                hand=_side(h["hand"]),
                learned=_side(h["learned"]),
            )
            for h in data.get("horizons", [])
        ],
    )
