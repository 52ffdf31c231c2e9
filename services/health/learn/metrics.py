"""Discrimination (AUC) and calibration (Brier score, reliability bins) of a score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..domain.trust import auc

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def score_auc(score: Floats, churned: Bools) -> float | None:
    """Chance a retained account scored above a churned one (ties half); None without both kinds."""
    return auc(churned=score[churned].tolist(), retained=score[~churned].tolist())


def brier(p_churn: Floats, churned: Bools) -> float | None:
    """Mean squared gap between the predicted churn probability and what happened (0 = perfect)."""
    if len(p_churn) == 0:
        return None
    return float(np.mean((p_churn - churned.astype(np.float64)) ** 2))


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    predicted: float | None  # mean predicted churn probability in the bin
    observed: float | None  # share that churned


def reliability(p_churn: Floats, churned: Bools, *, bins: int = 5) -> list[ReliabilityBin]:
    """Equal-width bins of predicted churn probability; the last bin includes 1.0."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p_churn, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        out.append(
            ReliabilityBin(
                low=float(edges[b]),
                high=float(edges[b + 1]),
                count=n,
                predicted=float(p_churn[inside].mean()) if n else None,
                observed=float(churned[inside].mean()) if n else None,
            )
        )
    return out
