"""Health keeps the latest of the answers notify publishes (one outcome per answer given, issue 13 #3)."""

from datetime import UTC, datetime, timedelta

from touchline.health.domain.aggregates import AccountState, apply_outcome

T0 = datetime(2026, 5, 1, tzinfo=UTC)
MESSAGE = "notify:3f1c0b9e-message"


def _answer(state: AccountState, seq: int, score: int, at: datetime) -> None:
    outcome_id = f"{MESSAGE}:answered-{seq:06d}"  # notify's id: the message's answer number
    apply_outcome(state, outcome_id=outcome_id, kind="inapp.answered", at=at, answer={"survey": "nps", "score": score})


def test_an_nps_answer_changed_back_keeps_the_last_one_whatever_the_arrival_order():
    given = [(1, 9, T0), (2, 2, T0 + timedelta(minutes=1)), (3, 9, T0 + timedelta(minutes=2))]
    for order in (given, list(reversed(given)), [given[2], given[0], given[1]]):
        state = AccountState("acc")
        for seq, score, at in order:
            _answer(state, seq, score, at)
        assert state.nps is not None and state.nps.value == 9.0


def test_answers_given_at_the_same_simulated_instant_are_ordered_by_their_number():
    state = AccountState("acc")
    for seq, score in ((12, 9), (10, 9), (11, 2)):  # the 12th answer (9) is the latest, past 9 → 10 digits
        _answer(state, seq, score, T0)
    assert state.nps is not None and state.nps.value == 9.0 and state.nps.id.endswith("answered-000012")


def test_a_partial_answer_without_a_score_keeps_the_last_score():
    state = AccountState("acc")
    _answer(state, 1, 3, T0)
    apply_outcome(
        state,
        outcome_id=f"{MESSAGE}:answered-000002",
        kind="inapp.answered",
        at=T0 + timedelta(minutes=1),
        answer={"survey": "nps", "comment": "why", "partial": True},
    )
    assert state.nps is not None and state.nps.value == 3.0
