from hypothesis import given
from hypothesis import strategies as st
from test_health_scoring import card  # type: ignore[import-not-found]

from touchline.health.domain.scorecard import parse_scorecards
from touchline.health.domain.scoring import score_card

values = st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
NAMES = ("logins", "nps", "seats")


@given(st.fixed_dictionaries({n: values for n in NAMES}))
def test_score_is_always_between_0_and_100(v: dict[str, float | None]) -> None:
    result = score_card(card(), v, previous_band=None, overrides=[])
    assert result.score is None or 0 <= result.score <= 100


@given(
    st.fixed_dictionaries({n: st.floats(min_value=-100, max_value=100, allow_nan=False) for n in NAMES}),
    st.sampled_from(NAMES),
    st.floats(min_value=0, max_value=50, allow_nan=False),
)
def test_score_never_decreases_when_a_measure_improves_and_others_hold(
    v: dict[str, float | None], name: str, gain: float
) -> None:
    # Every measure in the test card scores higher for higher values.
    before = score_card(card(), v, previous_band=None, overrides=[])
    improved = dict(v)
    improved[name] = (v[name] or 0) + gain
    after = score_card(card(), improved, previous_band=None, overrides=[])
    assert after.score is not None and before.score is not None
    assert after.score >= before.score


@given(st.lists(st.floats(min_value=0.1, max_value=100), min_size=1, max_size=6))
def test_normalised_weights_sum_to_one(weights: list[float]) -> None:
    doc = {
        "scorecards": [
            {
                "name": "c",
                "default": True,
                "measures": [
                    {
                        "name": f"m{i}",
                        "group": "other",
                        "weight": w,
                        "source": {"aggregate": "nps"},
                        "scoring": {"type": "linear", "from": [0, 0], "to": [10, 100]},
                    }
                    for i, w in enumerate(weights)
                ],
            }
        ]
    }
    c = parse_scorecards(doc).scorecards[0]
    result = score_card(c, {f"m{i}": 5.0 for i in range(len(weights))}, previous_band=None, overrides=[])
    assert abs(sum(m.weight for m in result.measures) - 1.0) < 1e-9
