"""Learned score weights: recovery of known weights, the metrics against hand-computed cases,
the scorecard arithmetic against the real scorer, and the proposal through the real loader."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchline.health.adapters.scorecard_file import load_scorecards
from touchline.health.domain.scorecard import ScorecardSet, parse_scorecards
from touchline.health.domain.scoring import score_card
from touchline.health.learn.dataset import build_dataset, scorecard_scores
from touchline.health.learn.fit import account_folds, compare_weights, weights_from_coefficients
from touchline.health.learn.metrics import brier, reliability, score_auc
from touchline.health.learn.proposal import proposal_yaml
from touchline.health.learn.snapshot import Snapshot

T = datetime(2027, 6, 1, tzinfo=UTC)
MEASURES = ("login_days", "key_features_share", "nps", "support_tickets")


def _cards(weights: tuple[float, ...] = (25, 25, 25, 25)) -> ScorecardSet:
    """Value = score (linear 0..100 -> 0..100), so the synthetic data sets measure scores directly."""
    measures = [
        {
            "name": name,
            "group": "engagement",
            "weight": w,
            "source": {"aggregate": name},
            "scoring": {"type": "linear", "from": [0, 0], "to": [100, 100]},
        }
        for name, w in zip(MEASURES, weights, strict=True)
    ]
    return parse_scorecards(
        {
            "scorecards": [
                {"name": "default", "default": True, "measures": measures},
                {"name": "big", "match": {"plan": ["enterprise"]}, "measures": measures[:2]},
            ]
        }
    )


def _synthetic(true_weights: tuple[float, ...], *, accounts: int, seed: int, missing: float = 0.0) -> list[Snapshot]:
    """Accounts whose churn follows a logistic model of the measure scores with known weights;
    each account's scores drift a little between 90, 60 and 30 days before its outcome."""
    rng = np.random.default_rng(seed)
    beta = np.array(true_weights) / 100 * 12  # strong enough to be learnable from a few hundred accounts
    snaps = []
    for a in range(accounts):
        base = rng.uniform(0, 1, len(MEASURES))
        churned = bool(rng.uniform() < 1 / (1 + np.exp(beta @ base - beta.sum() / 2)))
        for days in (30, 60, 90):
            s = np.clip(base + rng.normal(0, 0.05, len(MEASURES)), 0, 1)
            values = {
                m: (None if rng.uniform() < missing else float(v * 100)) for m, v in zip(MEASURES, s, strict=True)
            }
            snaps.append(Snapshot(f"acct-{a}", churned, T, days, values))
    return snaps


def test_the_fit_recovers_the_direction_and_ranking_of_known_weights() -> None:
    true = (50.0, 30.0, 15.0, 5.0)
    card = _cards().by_name("default")
    assert card is not None
    data = build_dataset(card, _synthetic(true, accounts=400, seed=1))
    cmp = compare_weights(data, np.array([25.0] * 4), horizons=(30, 60, 90))
    assert cmp.proposed and cmp.learned_weights is not None and cmp.coefficients is not None
    assert all(c < 0 for c in cmp.coefficients[:3])  # a higher score means less churn
    learned = cmp.learned_weights
    assert list(np.argsort(learned)[::-1][:3]) == [0, 1, 2]
    for got, want in zip(learned[:3], true[:3], strict=True):
        assert abs(got - want) < 6, learned
    assert sum(learned) == pytest.approx(100, abs=0.5)
    # out of sample, the learned weights separate better than equal ones on this data
    for h in cmp.horizons:
        assert h.learned.auc is not None and h.hand.auc is not None
        assert h.learned.auc > h.hand.auc > 0.5
        assert h.churned + h.retained == 400


def test_a_measure_that_does_not_protect_is_held_at_the_floor_not_made_negative() -> None:
    weights, floored = weights_from_coefficients(np.array([-3.0, -1.0, 2.0, 0.0]))
    assert list(floored) == [False, False, True, True]
    # 75, 25, floor 1, floor 1 -> renormalised over 102
    assert weights[2] == weights[3] == pytest.approx(100 / 102)
    assert weights.sum() == pytest.approx(100)
    assert weights[0] / weights[1] == pytest.approx(3.0)


def test_too_few_outcomes_gives_a_clear_message_and_no_proposal() -> None:
    card = _cards().by_name("default")
    assert card is not None
    data = build_dataset(card, _synthetic((50, 30, 15, 5), accounts=12, seed=2))
    cmp = compare_weights(data, np.array([25.0] * 4), horizons=(30, 60, 90))
    assert not cmp.proposed and cmp.horizons == []
    assert cmp.refused is not None and cmp.refused.startswith("too few outcomes to fit")
    assert "at least 10 of each" in cmp.refused
    with pytest.raises(ValueError, match="too few outcomes"):
        proposal_yaml(_cards(), "default", cmp)


def test_auc_brier_and_reliability_match_hand_computed_cases() -> None:
    score = np.array([10.0, 40.0, 40.0, 90.0])
    churned = np.array([True, True, False, False])
    # pairs (churned, retained): (10,40) win, (10,90) win, (40,40) half, (40,90) win -> 3.5/4
    assert score_auc(score, churned) == pytest.approx(0.875)
    p = np.array([0.9, 0.5, 0.2, 0.0])
    # (0.1^2 + 0.5^2 + 0.2^2 + 0^2) / 4 = 0.075
    assert brier(p, churned) == pytest.approx(0.075)
    bins = reliability(p, churned, bins=5)
    assert [b.count for b in bins] == [1, 1, 1, 0, 1]
    assert bins[0].predicted == 0.0 and bins[0].observed == 0.0
    assert bins[2].predicted == 0.5 and bins[2].observed == 1.0
    assert bins[3].predicted is None and bins[4].observed == 1.0
    assert score_auc(score[:2], churned[:2]) is None and brier(p[:0], churned[:0]) is None


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.integers(1, 50), min_size=4, max_size=4),
    values=st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=4, max_size=4),
)
def test_the_array_score_equals_the_scorers_score(weights: list[int], values: list[float | None]) -> None:
    card = _cards(tuple(float(w) for w in weights)).by_name("default")
    assert card is not None
    scored = score_card(card, dict(zip(MEASURES, values, strict=True)), previous_band=None, overrides=[])
    row = np.array([[np.nan if v is None else v / 100 for v in values]])
    got = scorecard_scores(row, np.array(weights, dtype=float))[0]
    if scored.computed is None:
        assert np.isnan(got)
    else:
        assert round(float(got), 1) == pytest.approx(scored.computed, abs=0.051)


def test_the_proposal_loads_through_the_real_loader_with_only_that_cards_weights_changed(tmp_path: Path) -> None:
    cards = _cards()
    card = cards.by_name("big")
    assert card is not None
    snaps = _synthetic((50, 30, 15, 5), accounts=200, seed=3, missing=0.1)
    cmp = compare_weights(build_dataset(card, snaps), np.array([50.0, 50.0]), horizons=(30, 60, 90))
    assert cmp.learned_weights is not None
    text = proposal_yaml(cards, "big", cmp)
    assert text.startswith("# Proposed weights for scorecard 'big'")
    assert "NOT IN EFFECT" in text and "AUC hand" in text
    path = tmp_path / "proposal.yaml"
    path.write_text(text)
    loaded = load_scorecards(path)
    big, default = loaded.by_name("big"), loaded.by_name("default")
    assert big is not None and default is not None
    assert tuple(m.weight for m in big.measures) == cmp.learned_weights
    assert big.measures[0].weight > big.measures[1].weight  # login_days truly weighs more
    assert default == cards.by_name("default") and big.match == card.match


def test_the_shipped_scorecards_round_trip_unchanged_apart_from_weights(tmp_path: Path) -> None:
    cards = load_scorecards()
    card = cards.by_name("enterprise")
    assert card is not None
    snaps = [
        Snapshot(f"a{i}", i % 2 == 0, T, 30, {"login_days": float(i % 2 * 10 + i % 3), "nps": float(i % 10)})
        for i in range(60)
    ]
    cmp = compare_weights(build_dataset(card, snaps), np.array([m.weight for m in card.measures]), horizons=(30,))
    assert cmp.learned_weights is not None
    path = tmp_path / "p.yaml"
    path.write_text(proposal_yaml(cards, "enterprise", cmp))
    loaded = load_scorecards(path)
    strip = [
        c.model_copy(update={"measures": [m.model_copy(update={"weight": 1}) for m in c.measures]})
        for c in loaded.scorecards
    ]
    orig = [
        c.model_copy(update={"measures": [m.model_copy(update={"weight": 1}) for m in c.measures]})
        for c in cards.scorecards
    ]
    assert strip == orig
    assert loaded.by_name("default") == cards.by_name("default")


def test_folds_never_split_an_account_and_each_training_set_holds_both_outcomes() -> None:
    # 7 accounts that only renewed, 5 that churned (one of them renewed first), 2-3 rows each
    groups, churned = [], []
    for a in range(12):
        for row in range(2 + a % 2):
            groups.append(f"a{a}")
            churned.append(a < 5 and not (a == 0 and row == 0))
    g, y = np.array(groups), np.array(churned)
    masks = account_folds(g, y, folds=5, seed=7)
    assert (np.sum(masks, axis=0) == 1).all()  # every row in exactly one test fold
    for test in masks:
        assert not set(g[test].tolist()) & set(g[~test].tolist())
        assert y[~test].any() and not y[~test].all()
        assert y[test].any() and (~y[test]).any()
    assert [m.tolist() for m in masks] == [m.tolist() for m in account_folds(g, y, folds=5, seed=7)]
