"""From history snapshots (raw measure values some days before an outcome) to arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..domain.scorecard import Scorecard
from .snapshot import Snapshot

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Dataset:
    measures: tuple[str, ...]
    scores: Floats  # (rows, measures) measure scores 0..1; NaN = no data that day
    churned: npt.NDArray[np.bool_]
    groups: npt.NDArray[np.str_]  # account ids: one account is never in both train and test
    days_before: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.churned)

    def ever_churned(self) -> dict[str, bool]:
        """Per account: did any of its outcomes churn (an account that renewed, then cancelled, churned)."""
        out: dict[str, bool] = {}
        for account, churned in zip(self.groups.tolist(), self.churned.tolist(), strict=True):
            out[account] = out.get(account, False) or churned
        return out


def build_dataset(card: Scorecard, snapshots: list[Snapshot]) -> Dataset:
    """Score each snapshot's raw values with the card's own scoring functions (so a pinned
    measure or a since-changed function does not leak into the fit). Snapshots without any
    measure of this card are left out: they had no score."""
    measures = card.compiled
    rows: list[list[float]] = []
    kept: list[Snapshot] = []
    for snap in snapshots:
        row = []
        for m in measures:
            value = snap.values.get(m.name)
            row.append(np.nan if value is None else m.fn(float(value)) / 100.0)
        if not all(np.isnan(row)):
            rows.append(row)
            kept.append(snap)
    return Dataset(
        measures=tuple(m.name for m in measures),
        scores=np.array(rows, dtype=np.float64).reshape(len(rows), len(measures)),
        churned=np.array([s.churned for s in kept], dtype=np.bool_),
        groups=np.array([s.account_id for s in kept], dtype=np.str_),
        days_before=np.array([s.days_before for s in kept], dtype=np.int64),
    )


def scorecard_scores(scores: Floats, weights: Floats) -> Floats:
    """The scorecard's score (0..100) of each row: the weighted mean of the measures with data,
    a missing measure's weight shared by the rest (as domain.scoring.score_card computes it)."""
    present = ~np.isnan(scores)
    w = np.where(present, weights, 0.0)
    total = w.sum(axis=1)
    points = np.where(present, scores, 0.0) * w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(100.0 * points.sum(axis=1) / total, 0.0, 100.0)


def impute_row_mean(scores: Floats) -> Floats:
    """A missing measure takes the mean of the row's measures with data: what the scorecard's
    renormalisation does with equal weights, so the fit sees what scoring will see."""
    means = np.nanmean(scores, axis=1, keepdims=True)
    return np.where(np.isnan(scores), means, scores)
