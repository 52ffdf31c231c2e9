"""Fit measure weights with regularised logistic regression and compare them with the hand-set
ones out of sample (cross-validation grouped by account: one account is never in both training and test)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from .dataset import Dataset, Floats, impute_row_mean, scorecard_scores
from .metrics import Bools, ReliabilityBin, brier, reliability, score_auc

MIN_PER_CLASS = 10  # distinct churned and renewed accounts below which a fit is noise
MAX_FOLDS = 5
MIN_WEIGHT = 1.0  # of 100: the loader refuses a zero weight; a measure the data does not back keeps this
DEFAULT_C = 1.0  # inverse L2 strength on measure scores in 0..1


@dataclass(frozen=True)
class Side:
    """One set of weights, scored out of sample at one horizon."""

    auc: float | None
    brier: float | None
    bins: list[ReliabilityBin]


@dataclass(frozen=True)
class Horizon:
    days: int
    churned: int
    retained: int
    hand: Side
    learned: Side


@dataclass(frozen=True)
class Comparison:
    measures: tuple[str, ...]
    hand_weights: tuple[float, ...]  # normalised to 100
    learned_weights: tuple[float, ...] | None  # normalised to 100; None = no proposal
    coefficients: tuple[float, ...] | None  # logistic coefficients on the 0..1 scores (negative = protects)
    unsupported: tuple[str, ...]  # measures held at MIN_WEIGHT: a higher score did not mean less churn
    churned_accounts: int
    renewed_accounts: int
    rows: int
    folds: int
    horizons: list[Horizon] = field(default_factory=list)
    refused: str | None = None  # why there is no proposal, in words

    @property
    def proposed(self) -> bool:
        return self.learned_weights is not None


def normalise(weights: Floats) -> Floats:
    return 100.0 * weights / weights.sum()


def weights_from_coefficients(coef: Floats) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """Scorecard weights (sum 100) from logistic coefficients on P(churn). A measure whose
    higher score goes with *more* churn gets the floor weight, never a negative one (a
    scorecard adds points; it cannot subtract). Also returns which measures were floored."""
    raw = np.maximum(-coef, 0.0)
    if raw.sum() <= 0:
        return np.full(len(coef), 100.0 / len(coef)), np.ones(len(coef), dtype=bool)
    w = normalise(raw)
    floored = w < MIN_WEIGHT
    return normalise(np.where(floored, MIN_WEIGHT, w)), floored


def fit_coefficients(scores: Floats, churned: np.ndarray, *, c: float = DEFAULT_C) -> Floats:
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit(impute_row_mean(scores), churned)
    return np.asarray(model.coef_[0], dtype=np.float64)


def _calibrator(score: Floats, churned: np.ndarray) -> LogisticRegression:
    """Platt scaling: a score (0..100) to P(churn), fitted on training rows only."""
    return LogisticRegression(C=1e4, max_iter=1000).fit((score / 100.0).reshape(-1, 1), churned)


def _p_churn(model: LogisticRegression, score: Floats) -> Floats:
    return np.asarray(model.predict_proba((score / 100.0).reshape(-1, 1))[:, 1], dtype=np.float64)


def account_folds(
    groups: npt.NDArray[np.str_], churned: npt.NDArray[np.bool_], *, folds: int, seed: int
) -> list[Bools]:
    """Test masks of ``folds`` folds: every account's rows in exactly one fold; accounts that ever
    churned and the others each dealt round-robin after a seeded shuffle, so with at least
    ``folds`` accounts of each kind every fold, and so every training set, holds both outcomes.
    Linear in the accounts (scikit-learn's StratifiedGroupKFold searches per group: seconds at
    5,000 accounts)."""
    rng = np.random.default_rng(seed)
    accounts, index = np.unique(groups, return_inverse=True)
    ever_churned = np.zeros(len(accounts), dtype=bool)
    np.logical_or.at(ever_churned, index, churned)
    fold_of = np.empty(len(accounts), dtype=np.int64)
    for kind in (True, False):
        members = np.flatnonzero(ever_churned == kind)
        fold_of[rng.permutation(members)] = np.arange(len(members)) % folds
    return [fold_of[index] == k for k in range(folds)]


def compare_weights(
    data: Dataset,
    hand_weights: Floats,
    *,
    horizons: tuple[int, ...],
    min_per_class: int = MIN_PER_CLASS,
    c: float = DEFAULT_C,
    seed: int = 0,
) -> Comparison:
    """Hand-set vs learned weights, each turned into a scorecard score and judged out of fold.

    Every fold fits on the training accounts (all horizons pooled), scores the held-out
    accounts with both weight sets, and calibrates each score to a churn probability on the
    training rows (Platt), so both sides are judged the same way. The proposal is the fit on all rows."""
    hand = normalise(np.asarray(hand_weights, dtype=np.float64))
    kinds = data.ever_churned()
    churned_n = sum(kinds.values())
    renewed_n = len(kinds) - churned_n  # renewed and never cancelled
    hand_rounded = tuple(round(float(w), 2) for w in hand)
    if min(churned_n, renewed_n) < max(min_per_class, 2):
        return Comparison(
            measures=data.measures,
            hand_weights=hand_rounded,
            churned_accounts=churned_n,
            renewed_accounts=renewed_n,
            rows=len(data),
            learned_weights=None,
            coefficients=None,
            unsupported=(),
            folds=0,
            refused=(
                f"too few outcomes to fit: {churned_n} churned and {renewed_n} renewed accounts have a "
                f"score history before their outcome; at least {min_per_class} of each are needed"
            ),
        )
    folds = min(MAX_FOLDS, churned_n, renewed_n)
    y = data.churned
    hand_score = scorecard_scores(data.scores, hand)
    learned_score = np.full(len(data), np.nan)
    p_hand = np.full(len(data), np.nan)
    p_learned = np.full(len(data), np.nan)
    for test in account_folds(data.groups, y, folds=folds, seed=seed):
        train = ~test
        weights, _ = weights_from_coefficients(fit_coefficients(data.scores[train], y[train], c=c))
        learned_train = scorecard_scores(data.scores[train], weights)
        learned_score[test] = scorecard_scores(data.scores[test], weights)
        p_learned[test] = _p_churn(_calibrator(learned_train, y[train]), learned_score[test])
        p_hand[test] = _p_churn(_calibrator(hand_score[train], y[train]), hand_score[test])
    coef = fit_coefficients(data.scores, y, c=c)
    weights, floored = weights_from_coefficients(coef)
    results = []
    for days in horizons:
        at = (data.days_before == days) & ~np.isnan(learned_score)
        yy = y[at]
        results.append(
            Horizon(
                days=days,
                churned=int(yy.sum()),
                retained=int((~yy).sum()),
                hand=Side(score_auc(hand_score[at], yy), brier(p_hand[at], yy), reliability(p_hand[at], yy)),
                learned=Side(
                    score_auc(learned_score[at], yy), brier(p_learned[at], yy), reliability(p_learned[at], yy)
                ),
            )
        )
    refused = None
    if floored.all():
        refused = "no measure's score was lower before churn than before renewal: nothing to learn weights from"
    return Comparison(
        measures=data.measures,
        hand_weights=hand_rounded,
        churned_accounts=churned_n,
        renewed_accounts=renewed_n,
        rows=len(data),
        learned_weights=None if refused else tuple(round(float(w), 1) for w in weights),
        coefficients=tuple(round(float(x), 4) for x in coef),
        unsupported=tuple(m for m, f in zip(data.measures, floored, strict=True) if f),
        folds=folds,
        horizons=results,
        refused=refused,
    )
