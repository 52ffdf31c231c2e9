from datetime import UTC, datetime, timedelta

from touchline.health.domain.aggregates import (
    AccountState,
    apply_outcome,
    apply_product_event,
    day_of,
    measure_value,
    prune,
    usage_trend,
)
from touchline.health.domain.codec import state_from_dict, state_to_dict
from touchline.health.domain.scorecard import Source

T0 = datetime(2027, 3, 1, 12, tzinfo=UTC)
TODAY = day_of(T0)


def track(
    state: AccountState,
    at: datetime,
    *,
    semantic: str = "other",
    user: str = "u1",
    feature: str | None = None,
    eid: str = "e",
):  # type: ignore[no-untyped-def]
    return apply_product_event(
        state, event_id=eid, kind="track", semantic=semantic, at=at, user_id=user, feature=feature, traits={}
    )


def test_active_users_ratio_counts_distinct_users_in_the_window_over_seats() -> None:
    s = AccountState("a")
    apply_product_event(
        s, event_id="g", kind="group", semantic="other", at=T0, user_id=None, feature=None, traits={"seats": 4}
    )
    track(s, T0, user="u1")
    track(s, T0, user="u1")
    track(s, T0 - timedelta(days=5), user="u2")
    track(s, T0 - timedelta(days=40), user="u3")
    assert measure_value(s, Source(aggregate="active_users_ratio"), today=TODAY) == 0.5


def test_active_users_ratio_has_no_data_without_seats() -> None:
    s = AccountState("a")
    track(s, T0)
    assert measure_value(s, Source(aggregate="active_users_ratio"), today=TODAY) is None


def test_days_since_login_counts_whole_days_and_falls_back_to_first_seen() -> None:
    s = AccountState("a")
    track(s, T0 - timedelta(days=10))
    assert measure_value(s, Source(aggregate="days_since_login"), today=TODAY) == 10
    track(s, T0 - timedelta(days=3), semantic="login")
    assert measure_value(s, Source(aggregate="days_since_login"), today=TODAY) == 3
    assert measure_value(s, Source(aggregate="login_days"), today=TODAY) == 1


def test_contact_and_survey_answers_come_from_outcomes_latest_wins_whatever_the_order() -> None:
    s = AccountState("a")
    apply_outcome(s, outcome_id="o2", kind="email.answered", at=T0, answer={"survey": "nps", "score": 9})
    apply_outcome(
        s, outcome_id="o1", kind="inapp.answered", at=T0 - timedelta(days=2), answer={"survey": "nps", "score": 3}
    )
    apply_outcome(s, outcome_id="o3", kind="email.opened", at=T0 + timedelta(days=1), answer=None)
    apply_outcome(s, outcome_id="o4", kind="task.completed", at=T0 - timedelta(days=1), answer=None)
    assert measure_value(s, Source(aggregate="nps"), today=TODAY) == 9
    assert s.last_contact == T0  # an open is not a contact
    assert measure_value(s, Source(aggregate="days_since_contact"), today=TODAY + 4) == 4


def test_roi_answer_beats_the_roi_trait() -> None:
    s = AccountState("a")
    apply_product_event(
        s, event_id="g", kind="group", semantic="other", at=T0, user_id=None, feature=None, traits={"roi": 4}
    )
    assert measure_value(s, Source(aggregate="roi"), today=TODAY) == 4
    apply_outcome(s, outcome_id="o", kind="inapp.answered", at=T0, answer={"survey": "roi", "score": 8})
    assert measure_value(s, Source(aggregate="roi"), today=TODAY) == 8


def test_key_feature_share_counts_only_listed_features_used_in_the_window() -> None:
    s = AccountState("a")
    track(s, T0, semantic="feature_used", feature="reports")
    track(s, T0, semantic="feature_used", feature="other")
    track(s, T0 - timedelta(days=45), semantic="feature_used", feature="alerts")
    src = Source(aggregate="key_features_share", key_features=["reports", "alerts"])
    assert measure_value(s, src, today=TODAY) == 0.5
    assert measure_value(s, Source(aggregate="key_features_share", expected_features=4), today=TODAY) == 0.5


def test_usage_trend_compares_the_last_window_with_the_one_before() -> None:
    s = AccountState("a")
    for _ in range(10):
        track(s, T0 - timedelta(days=40))
    for _ in range(4):
        track(s, T0 - timedelta(days=2))
    assert usage_trend(s, today=TODAY) == -0.6
    assert usage_trend(AccountState("b"), today=TODAY) is None


def test_risk_flags_and_tickets_have_no_data_until_sent() -> None:
    s = AccountState("a")
    track(s, T0)
    assert measure_value(s, Source(aggregate="risk_flags"), today=TODAY) is None
    assert measure_value(s, Source(aggregate="support_tickets"), today=TODAY) is None
    apply_product_event(
        s,
        event_id="g",
        kind="group",
        semantic="other",
        at=T0,
        user_id=None,
        feature=None,
        traits={"business_shrinking": True},
    )
    track(s, T0, semantic="support_ticket")
    assert measure_value(s, Source(aggregate="risk_flags"), today=TODAY) == 1
    assert measure_value(s, Source(aggregate="support_tickets"), today=TODAY) == 1


def test_cancel_and_renew_events_become_lifecycle_facts() -> None:
    s = AccountState("a")
    fact = track(s, T0, semantic="cancelled", eid="c1")
    assert fact is not None and fact.kind == "cancelled" and fact.at == T0


def test_prune_keeps_the_state_bounded_and_the_codec_round_trips() -> None:
    s = AccountState("a")
    track(s, T0 - timedelta(days=100), user="old", semantic="login")
    track(s, T0, user="new", semantic="login")
    apply_outcome(s, outcome_id="o", kind="inapp.answered", at=T0, answer={"survey": "nps", "score": 7})
    prune(s, retention_days=60)
    assert set(s.users) == {"new"} and len(s.login_days) == 1
    assert state_to_dict(state_from_dict("a", state_to_dict(s))) == state_to_dict(s)


def test_a_task_closed_as_customer_unreachable_is_no_contact_a_resolved_one_is() -> None:
    s = AccountState("a")
    for i, detail in enumerate(
        ["completed: customer_unreachable: voicemail twice", "closed: not done", "completed: 連絡が取れず"]
    ):
        apply_outcome(s, outcome_id=f"u{i}", kind="task.completed", at=T0, answer=None, detail=detail)
    assert s.last_contact is None
    later = T0 + timedelta(days=1)
    apply_outcome(s, outcome_id="r", kind="task.completed", at=later, answer=None, detail="completed: resolved")
    assert s.last_contact == later


def test_a_logged_call_that_reached_the_customer_sets_last_contact_and_the_relationship() -> None:
    s = AccountState("a")
    call = {"kind": "call", "reached": True, "relationship": 2}
    apply_outcome(s, outcome_id="c1", kind="activity.logged", at=T0, answer=None, activity=call)
    assert s.last_contact == T0
    assert measure_value(s, Source(aggregate="relationship"), today=TODAY) == 2
    later = {"kind": "meeting", "reached": True, "relationship": 5}
    apply_outcome(s, outcome_id="c2", kind="activity.logged", at=T0 + timedelta(days=3), answer=None, activity=later)
    apply_outcome(s, outcome_id="c0", kind="activity.logged", at=T0 - timedelta(days=3), answer=None, activity=call)
    assert measure_value(s, Source(aggregate="relationship"), today=TODAY + 3) == 5  # latest wins, any order
    assert state_from_dict("a", state_to_dict(s)).relationship == s.relationship


def test_an_unreached_call_or_a_note_changes_neither_last_contact_nor_the_relationship() -> None:
    s = AccountState("a")
    for i, activity in enumerate(
        [{"kind": "call", "reached": False, "relationship": 1}, {"kind": "note", "reached": True, "relationship": 1}]
    ):
        apply_outcome(s, outcome_id=f"n{i}", kind="activity.logged", at=T0, answer=None, activity=activity)
    assert s.last_contact is None
    assert measure_value(s, Source(aggregate="relationship"), today=TODAY) is None  # no rating = no data


def test_the_relationship_measure_is_explained_as_a_rating_out_of_five() -> None:
    from touchline.health.domain.explain import format_value
    from touchline.health.domain.scoring import MeasureResult

    rated = MeasureResult(
        "relationship", "engagement", "rating", "relationship", 4.0, 75.0, 5, 0.05, 3.75, False, "healthy"
    )
    assert format_value(rated) == "4/5"


def test_attending_a_webinar_is_contact_with_us_not_use_of_the_product() -> None:
    s = AccountState("a")
    track(s, T0 - timedelta(days=10))
    track(s, T0, semantic="webinar_attended")
    assert s.last_contact == T0
    assert measure_value(s, Source(aggregate="days_since_contact"), today=TODAY + 2) == 2
    assert s.usage == {TODAY - 10: 1}
