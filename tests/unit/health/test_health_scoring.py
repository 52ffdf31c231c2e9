from datetime import UTC, datetime, timedelta

import pytest

from touchline.health.domain.explain import explain
from touchline.health.domain.overrides import Override
from touchline.health.domain.scorecard import BandThresholds, Linear, Ranges, parse_scorecards
from touchline.health.domain.scoring import band_of, band_with_hysteresis, score_card, score_function

T0 = datetime(2027, 1, 1, tzinfo=UTC)


def card(**overrides):  # type: ignore[no-untyped-def]
    doc = {
        "scorecards": [
            {
                "name": "default",
                "default": True,
                "measures": [
                    {
                        "name": "logins",
                        "group": "engagement",
                        "weight": 30,
                        "source": {"aggregate": "login_days"},
                        "scoring": {"type": "linear", "from": [0, 0], "to": [10, 100]},
                    },
                    {
                        "name": "nps",
                        "group": "roi",
                        "weight": 10,
                        "source": {"aggregate": "nps"},
                        "scoring": {"type": "ranges", "ranges": [{"min": 9, "score": 100}], "default": 20},
                    },
                    {
                        "name": "seats",
                        "group": "deployment",
                        "weight": 60,
                        "source": {"aggregate": "active_users_ratio"},
                        "scoring": {"type": "linear", "from": [0, 0], "to": [1, 100]},
                    },
                ],
                **overrides,
            }
        ]
    }
    return parse_scorecards(doc).scorecards[0]


def test_linear_scoring_interpolates_between_its_points_and_is_flat_beyond() -> None:
    f = Linear.model_validate({"type": "linear", "from": [3, 100], "to": [30, 0]})
    assert score_function(f, 3) == 100
    assert score_function(f, 0) == 100
    assert score_function(f, 16.5) == pytest.approx(50)
    assert score_function(f, 45) == 0


def test_ranges_scoring_takes_the_first_matching_range_else_the_default() -> None:
    f = Ranges.model_validate(
        {"type": "ranges", "ranges": [{"max": 30, "score": 100}, {"min": 30, "max": 60, "score": 70}], "default": 10}
    )
    assert score_function(f, 0) == 100
    assert score_function(f, 30) == 70
    assert score_function(f, 60) == 10


def test_a_measure_without_data_is_left_out_and_its_weight_shared_by_the_others() -> None:
    result = score_card(card(), {"logins": 10, "nps": None, "seats": 0.5}, previous_band=None, overrides=[])
    nps = result.measure("nps")
    assert nps is not None and nps.missing and nps.weight == 0 and nps.contribution == 0
    assert result.measure("logins").weight == pytest.approx(30 / 90)  # type: ignore[union-attr]
    assert result.score == pytest.approx(100 * 30 / 90 + 50 * 60 / 90, abs=0.05)
    assert any("no data" in line and "10% weight shared" in line for line in explain(result))


def test_no_data_at_all_gives_no_score() -> None:
    result = score_card(card(), {"logins": None, "nps": None, "seats": None}, previous_band=None, overrides=[])
    assert result.score is None and result.band is None


def test_bands_use_the_default_thresholds() -> None:
    t = BandThresholds()
    assert [band_of(s, t) for s in (80, 79.9, 60, 40, 39.9)] == [
        "good",
        "healthy",
        "healthy",
        "caution",
        "action_required",
    ]


def test_a_score_hovering_at_a_boundary_keeps_its_band() -> None:
    t = BandThresholds()
    assert band_with_hysteresis(79.0, t, previous="healthy", hysteresis=2) == "healthy"
    assert band_with_hysteresis(80.5, t, previous="healthy", hysteresis=2) == "healthy"
    assert band_with_hysteresis(79.0, t, previous="good", hysteresis=2) == "good"
    assert band_with_hysteresis(82.0, t, previous="healthy", hysteresis=2) == "good"
    assert band_with_hysteresis(77.9, t, previous="good", hysteresis=2) == "healthy"
    assert band_with_hysteresis(30.0, t, previous="good", hysteresis=2) == "action_required"


def test_score_override_replaces_the_score_and_its_band_but_keeps_the_computed_one() -> None:
    o = Override(
        kind="score", reason="exec sponsor left", set_by="csm@x", set_at=T0, expires_at=T0 + timedelta(days=9), score=35
    )
    result = score_card(card(), {"logins": 10, "nps": 10, "seats": 1}, previous_band=None, overrides=[o])
    assert result.computed == 100 and result.score == 35 and result.band == "action_required"
    assert result.computed_band == "good" and result.overridden
    assert explain(result)[0].startswith("override: score set to 35")


def test_band_override_forces_the_band_only() -> None:
    o = Override(
        kind="band",
        reason="renewal at risk",
        set_by="csm@x",
        set_at=T0,
        expires_at=T0 + timedelta(days=9),
        band="caution",
    )
    result = score_card(card(), {"logins": 10, "nps": 10, "seats": 1}, previous_band=None, overrides=[o])
    assert result.score == 100 and result.band == "caution"


def test_a_pinned_measure_counts_even_without_data() -> None:
    o = Override(
        kind="measure",
        reason="NPS by phone: 9",
        set_by="csm@x",
        set_at=T0,
        expires_at=T0 + timedelta(days=9),
        measure="nps",
        score=100,
    )
    result = score_card(card(), {"logins": 0, "nps": None, "seats": 0}, previous_band=None, overrides=[o])
    nps = result.measure("nps")
    assert nps is not None and nps.pinned and not nps.missing and nps.score == 100
    assert result.score == pytest.approx(10.0)


def test_measure_bands_use_their_own_thresholds() -> None:
    c = card()
    doc_measure = c.measures[0].model_copy(update={"bands": BandThresholds(good=95, healthy=90, caution=50)})
    c2 = c.model_copy(update={"measures": [doc_measure, *c.measures[1:]]})
    result = score_card(c2, {"logins": 9, "nps": None, "seats": None}, previous_band=None, overrides=[])
    assert result.measure("logins").band == "healthy"  # type: ignore[union-attr]


def test_explanation_puts_what_moved_first_then_what_costs_most() -> None:
    result = score_card(card(), {"logins": 2, "nps": 10, "seats": 0.9}, previous_band=None, overrides=[])
    previous = {"logins": 30.0, "nps": 10.0, "seats": 54.0}
    lines = explain(result, previous=previous)
    assert lines[0].startswith("Engagement · logins = 2: scored 20")
    assert "-24.0 pts since the previous score" in lines[0]
    assert "costs" in lines[1]
