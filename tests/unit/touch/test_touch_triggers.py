"""When playbooks start: date triggers, caps and filters, and what consumed messages mean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from touchline.shared.messages import HealthScored, Outcome, ProductEvent
from touchline.touch.adapters.config import load_playbooks
from touchline.touch.domain.signals import SignalThresholds, apply_input, from_event, from_health, from_outcome
from touchline.touch.domain.tiers import Profile
from touchline.touch.domain.triggers import (
    eligibility,
    enrolment_id,
    following_occurrence,
    next_date_trigger,
    one_shot_occurrence,
)
from touchline.touch.settings import CONFIG_DIR

NOW = datetime(2030, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def seeds():  # type: ignore[no-untyped-def]
    return load_playbooks(Path(CONFIG_DIR) / "playbooks")


def profile(**traits: object) -> Profile:
    return Profile(account_id="a", traits=traits, first_seen_at=NOW - 10 * DAY)


def test_renewal_starts_120_days_before_the_renewal_date(seeds) -> None:
    assert (
        next_date_trigger(seeds["renewal"], profile(renewal_date="2031-01-01"), now=NOW)
        == datetime(2031, 1, 1, tzinfo=UTC) - 120 * DAY
    )


def test_a_renewal_date_learned_late_starts_at_once_and_a_past_one_never(seeds) -> None:
    assert next_date_trigger(seeds["renewal"], profile(renewal_date="2030-08-01"), now=NOW) == NOW
    assert next_date_trigger(seeds["renewal"], profile(renewal_date="2030-05-01"), now=NOW) is None
    assert next_date_trigger(seeds["renewal"], profile(), now=NOW) is None


def test_nps_recurs_twice_a_year(seeds) -> None:
    first = next_date_trigger(seeds["advocacy"], profile(), now=NOW)
    assert first == NOW + 20 * DAY
    assert following_occurrence(seeds["advocacy"], first, now=first) == first + 182 * DAY
    assert following_occurrence(seeds["renewal"], first, now=first) is None
    much_later = next_date_trigger(seeds["advocacy"], profile(), now=NOW + 400 * DAY)
    assert (
        much_later is not None and much_later >= NOW + 400 * DAY and (much_later - first) % (182 * DAY) == timedelta(0)
    )


def test_after_a_long_jump_only_the_latest_missed_survey_is_caught_up(seeds) -> None:
    fired = NOW
    five_years_on = NOW + 5 * 365 * DAY
    nxt = following_occurrence(seeds["advocacy"], fired, now=five_years_on)
    assert nxt is not None and five_years_on - 182 * DAY < nxt <= five_years_on
    assert following_occurrence(seeds["advocacy"], nxt, now=five_years_on) == nxt + 182 * DAY


def test_reengagement_is_due_120_days_after_the_last_csm_contact_even_when_learned_late(seeds) -> None:
    contacted = Profile(account_id="a", traits={}, first_seen_at=NOW - 300 * DAY, last_csm_contact_at=NOW - 50 * DAY)
    assert next_date_trigger(seeds["reengagement"], contacted, now=NOW) == NOW + 70 * DAY
    silent = Profile(account_id="a", traits={}, first_seen_at=NOW - 300 * DAY)
    assert next_date_trigger(seeds["reengagement"], silent, now=NOW) == NOW


def test_caps_one_run_at_a_time_and_cooldown(seeds) -> None:
    risk = seeds["risk"]
    ok = eligibility(risk, tier="tech", phase="adoption", has_open_run=False, last_enrolled_at=None, now=NOW)
    assert ok.ok
    running = eligibility(risk, tier="tech", phase="adoption", has_open_run=True, last_enrolled_at=None, now=NOW)
    assert not running.ok and "already running" in running.reason
    cooling = eligibility(
        risk, tier="tech", phase="adoption", has_open_run=False, last_enrolled_at=NOW - 10 * DAY, now=NOW
    )
    assert not cooling.ok and "cooldown" in cooling.reason
    by_hand = eligibility(
        risk, tier="tech", phase="adoption", has_open_run=False, last_enrolled_at=NOW - DAY, now=NOW, manual=True
    )
    assert by_hand.ok


def test_churned_accounts_only_get_the_churn_playbook(seeds) -> None:
    assert not eligibility(
        seeds["risk"], tier="tech", phase="churned", has_open_run=False, last_enrolled_at=None, now=NOW
    ).ok
    assert eligibility(
        seeds["churn"], tier="tech", phase="churned", has_open_run=False, last_enrolled_at=None, now=NOW
    ).ok
    assert not eligibility(
        seeds["churn"], tier="tech", phase="adoption", has_open_run=False, last_enrolled_at=None, now=NOW
    ).ok


def test_enrolment_ids_are_deterministic_per_cause() -> None:
    assert enrolment_id("a", "risk", "m1") == enrolment_id("a", "risk", "m1") != enrolment_id("a", "risk", "m2")


def scored(**kw: object) -> HealthScored:
    base = {"score_id": "s1", "account_id": "a", "score": 40.0, "band": "caution", "computed_at": NOW}
    return HealthScored.model_validate({**base, **kw})


def test_health_scores_become_band_and_usage_signals() -> None:
    t = SignalThresholds()
    names = lambda msg: [i.signal.name if i.signal else f"band {i.band}" for i in from_health(msg, thresholds=t)]  # noqa: E731
    assert names(scored(previous_band="healthy", usage_trend=-0.6)) == [
        "usage_declined",
        "band_dropped",
        "band caution",
    ]
    assert names(scored(band="good", previous_band="caution", usage_trend=0.2)) == [
        "usage_improved",
        "band_recovered",
        "band good",  # a new band is kept for the effectiveness report (no signal)
    ]
    assert names(scored(band="healthy", previous_band="healthy", days_since_login=30)) == ["usage_declined"]
    assert names(scored(band="healthy", previous_band="healthy", usage_trend=-0.2)) == []


def test_group_traits_and_lifecycle_events_shape_the_profile() -> None:
    group = ProductEvent(
        message_id="m1", account_id="a", kind="group", timestamp=NOW, received_at=NOW,
        traits={"arr": 20000, "renewal_date": "2031-01-01", "favourite_colour": "red"},
    )  # fmt: skip
    [item] = from_event(group)
    prof = apply_input(None, item, account_id="a", at=NOW)
    assert prof.traits == {"arr": 20000, "renewal_date": "2031-01-01"} and prof.first_seen_at == NOW
    cancelled = ProductEvent(
        message_id="m2", account_id="a", kind="track", semantic="cancelled", timestamp=NOW, received_at=NOW
    )
    assert apply_input(prof, from_event(cancelled)[0], account_id="a", at=NOW).churned
    page = ProductEvent(message_id="m3", account_id="a", kind="page", timestamp=NOW, received_at=NOW)
    [use] = from_event(page)
    assert (use.signal, use.usage, use.traits) == (None, True, {})  # counted as use, no signal
    identify = ProductEvent(message_id="m4", account_id="a", kind="identify", timestamp=NOW, received_at=NOW)
    assert from_event(identify) == []


def test_a_completed_task_counts_as_csm_contact() -> None:
    done = Outcome(
        outcome_id="o1",
        account_id="a",
        kind="task.completed",
        occurred_at=NOW,
        enrolment_id="e1",
        detail="completed: resolved: talked about the roadmap",
    )
    [item] = from_outcome(done)
    assert item.enrolment_id == "e1" and item.signal.name == "task.completed"
    assert apply_input(profile(), item, account_id="a", at=NOW).last_csm_contact_at == NOW


@pytest.mark.parametrize(
    "detail",
    [
        "completed: customer_unreachable",
        "completed: customer_unreachable: three calls, voicemail",
        "completed: Customer unreachable by phone",
        "completed: no answer after two mails",
        "completed: 電話したが不在",
        "completed: not_needed",
        "completed: duplicate",
        "closed: resolved elsewhere",
    ],
)
def test_a_task_closed_without_reaching_the_customer_is_no_csm_contact(detail: str) -> None:
    closed = Outcome(outcome_id="o1", account_id="a", kind="task.completed", occurred_at=NOW, detail=detail)
    [item] = from_outcome(closed)
    assert item.signal.name == "task.completed" and not item.csm_contact
    assert apply_input(profile(), item, account_id="a", at=NOW).last_csm_contact_at is None


def test_a_machine_open_is_no_signal_at_all() -> None:
    machine = Outcome(outcome_id="o1", account_id="a", kind="email.opened", occurred_at=NOW, machine=True)
    human = Outcome(outcome_id="o2", account_id="a", kind="email.opened", occurred_at=NOW)
    assert from_outcome(machine) == []
    assert [i.signal.name for i in from_outcome(human)] == ["email.opened"]


def test_a_one_shot_trigger_stands_for_its_date_value_and_a_recurring_one_for_none(seeds) -> None:
    assert (
        one_shot_occurrence(seeds["renewal"], profile(renewal_date="2031-01-01"))
        == datetime(2031, 1, 1, tzinfo=UTC) - 120 * DAY
    )
    assert one_shot_occurrence(seeds["renewal"], profile()) is None
    assert one_shot_occurrence(seeds["advocacy"], profile()) is None
    assert one_shot_occurrence(seeds["risk"], profile()) is None


def test_an_overdue_one_shot_trigger_that_fired_for_its_date_is_not_armed_again(seeds) -> None:
    silent = Profile(account_id="a", traits={"seats": 12}, first_seen_at=NOW - 300 * DAY)
    assert one_shot_occurrence(seeds["reengagement"], silent, at=NOW) == NOW  # a bounded trigger keeps when it fired
    runs = [NOW - d * DAY for d in (180, 150, 120, 90)]  # at 120, 150, 180, 210 days of silence
    assert next_date_trigger(seeds["reengagement"], silent, now=NOW, fired=runs) is None
    late = profile(renewal_date="2030-08-01")  # learned inside the 120 days: it fired at once
    fired_for = one_shot_occurrence(seeds["renewal"], late)
    assert fired_for == NOW - 59 * DAY
    assert next_date_trigger(seeds["renewal"], late, now=NOW, fired=[fired_for]) is None


def test_reengagement_recurs_every_30_days_of_silence_at_most_four_times(seeds) -> None:
    silent = Profile(account_id="a", traits={}, first_seen_at=NOW - 125 * DAY)
    first = NOW - 5 * DAY
    assert next_date_trigger(seeds["reengagement"], silent, now=NOW - 10 * DAY) == first
    assert next_date_trigger(seeds["reengagement"], silent, now=NOW, fired=[first]) == first + 30 * DAY
    # An outage: the overdue run fires at once, and the next one comes a whole period after it.
    late = NOW + 60 * DAY
    assert next_date_trigger(seeds["reengagement"], silent, now=late, fired=[first]) == late
    assert next_date_trigger(seeds["reengagement"], silent, now=late, fired=[first, late]) == late + 30 * DAY
    runs = [first + k * 30 * DAY for k in range(4)]
    assert next_date_trigger(seeds["reengagement"], silent, now=NOW + 400 * DAY, fired=runs) is None


def test_runs_of_an_earlier_silence_do_not_count_against_a_new_one(seeds) -> None:
    """A real contact moved the date: the runs before it belong to the old silence."""
    contacted = Profile(account_id="a", traits={}, first_seen_at=NOW - 400 * DAY, last_csm_contact_at=NOW - 130 * DAY)
    old_runs = [NOW - d * DAY for d in (280, 250, 220, 190)]  # four runs before the contact
    assert next_date_trigger(seeds["reengagement"], contacted, now=NOW, fired=old_runs) == NOW


def test_a_new_date_arms_a_one_shot_trigger_again(seeds) -> None:
    """The renewal moved a year on after renewing: next year's 120-day reminder is due as usual."""
    fired = [datetime(2030, 8, 1, tzinfo=UTC) - 120 * DAY]
    renewed = profile(renewal_date="2031-08-01")
    assert (
        next_date_trigger(seeds["renewal"], renewed, now=NOW, fired=fired)
        == datetime(2031, 8, 1, tzinfo=UTC) - 120 * DAY
    )
    contacted = Profile(account_id="a", traits={}, first_seen_at=NOW - 300 * DAY, last_csm_contact_at=NOW - 130 * DAY)
    before = [NOW - 180 * DAY]  # fired for first seen + 120 d; a CSM contact since moved the date
    assert next_date_trigger(seeds["reengagement"], contacted, now=NOW, fired=before) == NOW


def test_what_fired_before_does_not_hold_back_a_recurring_survey(seeds) -> None:
    first = next_date_trigger(seeds["advocacy"], profile(), now=NOW)
    assert first is not None
    assert next_date_trigger(seeds["advocacy"], profile(), now=NOW, fired=[first]) == first


def test_a_band_drop_starts_nothing_while_risk_runs_or_within_a_cooldown_of_its_start(seeds) -> None:
    band_drop = seeds["band_drop"]

    def verdict(**kwargs: object):  # type: ignore[no-untyped-def]
        return eligibility(
            band_drop, tier="tech", phase="adoption", has_open_run=False, last_enrolled_at=None, now=NOW, **kwargs
        )

    assert not verdict(running=["risk"]).ok
    # The risk mails went out two weeks ago and the run is over: not the same mails again.
    lately = verdict(others_started={"risk": NOW - 14 * DAY})
    assert not lately.ok and "risk started" in lately.reason
    assert verdict(others_started={"risk": NOW - 31 * DAY}).ok
    assert verdict(others_started={"risk": None}).ok
    # Only the playbooks the trigger names count.
    assert verdict(others_started={"renewal": NOW - DAY}).ok


@pytest.mark.parametrize(
    ("activity", "counts"),
    [
        ({"kind": "call", "reached": True, "relationship": None}, True),
        ({"kind": "meeting", "reached": True, "relationship": 4}, True),
        ({"kind": "call", "reached": False, "relationship": None}, False),
        ({"kind": "note", "reached": False, "relationship": None}, False),
    ],
)
def test_a_logged_activity_resets_the_reengagement_clock_only_when_it_reached_the_customer(
    activity: dict[str, object], counts: bool
) -> None:
    logged = Outcome(
        outcome_id="o1", account_id="a", kind="activity.logged", occurred_at=NOW, detail="", activity=activity
    )
    [item] = from_outcome(logged)
    assert item.csm_contact is counts
    assert apply_input(profile(), item, account_id="a", at=NOW).last_csm_contact_at == (NOW if counts else None)
