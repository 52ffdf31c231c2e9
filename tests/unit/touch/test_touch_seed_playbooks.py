"""Each seed playbook's step logic, as a pure function of (state, signal or wake-up, now) -> decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from touchline.touch.adapters.config import load_playbooks
from touchline.touch.domain.engine import (
    Enrolment,
    MessageCap,
    OpenTask,
    Send,
    Signal,
    on_signal,
    on_wake,
    start,
)
from touchline.touch.domain.playbook import Playbook
from touchline.touch.settings import CONFIG_DIR

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def seeds() -> dict[str, Playbook]:
    return load_playbooks(Path(CONFIG_DIR) / "playbooks")


def run(
    playbook: Playbook,
    *,
    tier: str,
    signals: Sequence[tuple[timedelta, Signal | str]] = (),
    until: timedelta = 400 * DAY,
    anchors: dict[str, datetime] | None = None,
    cap: MessageCap | None = None,
) -> tuple[list[tuple[timedelta, str]], Enrolment]:
    """Drive an enrolment from T0 through signals (at T0 + offset) and wake-ups; return (offset, what) pairs."""
    variant = playbook.variant_for(tier)
    assert variant is not None
    state = Enrolment(
        id="enr_test",
        account_id="acc",
        playbook=playbook.name,
        variant=variant[0],
        tier=tier,
        enrolled_at=T0,
        anchors={"enrolled_at": T0, **(anchors or {})},
    )
    timeline: list[tuple[timedelta, str]] = []
    sends: list[datetime] = []

    def record(adv_decisions: Sequence[Send | OpenTask], at: datetime) -> None:
        for d in adv_decisions:
            what = f"{d.channel}:{d.template}" if isinstance(d, Send) else f"task:{d.task_type}:{d.priority}"
            timeline.append((at - T0, what))
            if isinstance(d, Send):
                sends.append(at)

    adv = start(playbook, state, now=T0, cap=cap)
    record(adv.decisions, T0)
    state = adv.state
    pending = sorted(
        ((T0 + off, s if isinstance(s, Signal) else Signal(s, T0 + off)) for off, s in signals), key=lambda x: x[0]
    )
    while state.status == "active":
        next_signal = pending[0][0] if pending else None
        wake = state.wake_at
        if wake is not None and (next_signal is None or wake <= next_signal) and wake <= T0 + until:
            adv = on_wake(playbook, state, now=wake, recent_sends=tuple(sends), cap=cap)
            record(adv.decisions, wake)
        elif next_signal is not None and next_signal <= T0 + until:
            at, signal = pending.pop(0)
            adv = on_signal(playbook, state, Signal(signal.name, at, signal.answer), recent_sends=tuple(sends), cap=cap)
            record(adv.decisions, at)
        else:
            break
        state = adv.state
    return timeline, state


def answer(survey: str, **values: object) -> Signal:
    return Signal("email.answered", T0, answer={"survey": survey, **values})


# --- onboarding -----------------------------------------------------------------------------------


HOUR = timedelta(hours=1)


def test_tech_onboarding_that_goes_well_gets_welcome_training_setup_tips_thanks_and_survey(seeds) -> None:
    timeline, state = run(
        seeds["onboarding"],
        tier="tech",
        signals=[(2 * HOUR, "email.opened"), (3 * DAY, "login"), (6 * DAY, "feature_used"), (13 * DAY, "daily_use")],
    )
    assert timeline == [
        (0 * DAY, "email:onboarding.welcome"),
        (2 * DAY, "email:onboarding.training_invite"),
        (5 * DAY, "email:onboarding.setup_material"),
        (6 * DAY, "in_app:onboarding.tips"),
        (13 * DAY, "email:onboarding.thanks"),
        (15 * DAY, "in_app:onboarding.satisfaction_survey"),
    ]
    assert state.status == "completed"


def test_a_product_reporting_setup_done_skips_the_setup_material_and_tips_follow_use(seeds) -> None:
    timeline, _ = run(
        seeds["onboarding"],
        tier="tech",
        signals=[(2 * HOUR, "email.opened"), (4 * DAY, "setup_completed"), (4 * DAY + 3 * HOUR, "feature_used")],
        until=5 * DAY,
    )
    assert timeline == [
        (0 * DAY, "email:onboarding.welcome"),
        (2 * DAY, "email:onboarding.training_invite"),
        (4 * DAY + 3 * HOUR, "in_app:onboarding.tips"),
    ]


def test_set_up_before_the_setup_step_goes_straight_to_tips_once_in_use(seeds) -> None:
    timeline, _ = run(
        seeds["onboarding"],
        tier="tech",
        signals=[(2 * HOUR, "email.opened"), (1 * DAY, "setup_completed"), (1 * DAY, "feature_used")],
        until=6 * DAY,
    )
    assert [w for _, w in timeline] == [
        "email:onboarding.welcome",
        "email:onboarding.training_invite",
        "in_app:onboarding.tips",
    ]
    assert timeline[-1][0] == 5 * DAY


def test_a_customer_who_logged_in_once_gets_no_thanks_but_a_reminder_then_a_human(seeds) -> None:
    timeline, _ = run(
        seeds["onboarding"],
        tier="tech",
        signals=[(2 * HOUR, "email.opened"), (3 * DAY, "login"), (6 * DAY, "feature_used")],
        until=40 * DAY,
    )
    assert all("onboarding.thanks" not in what for _, what in timeline)
    assert timeline[4:] == [(20 * DAY, "email:onboarding.reminder"), (34 * DAY, "task:onboarding_stalled:high")]


def test_unopened_welcome_mail_brings_a_human_in_after_a_day(seeds) -> None:
    timeline, _ = run(seeds["onboarding"], tier="tech", signals=[(6 * DAY, "feature_used")])
    assert timeline[:3] == [
        (0 * DAY, "email:onboarding.welcome"),
        (1 * DAY, "task:onboarding_no_response:high"),
        (2 * DAY, "email:onboarding.training_invite"),
    ]


def test_tech_onboarding_without_progress_gets_a_reminder_then_a_human_and_no_survey_while_the_task_is_open(
    seeds,
) -> None:
    timeline, state = run(seeds["onboarding"], tier="tech", signals=[(1 * HOUR, "email.opened")])
    assert timeline == [
        (0 * DAY, "email:onboarding.welcome"),
        (2 * DAY, "email:onboarding.training_invite"),
        (5 * DAY, "email:onboarding.reminder"),
        (10 * DAY, "task:onboarding_stalled:high"),
    ]
    assert (state.status, state.step) == ("completed", "await_after_call")


def test_a_stalled_onboarding_gets_the_closing_survey_once_the_csm_closed_the_task(seeds) -> None:
    timeline, _ = run(
        seeds["onboarding"], tier="tech", signals=[(1 * HOUR, "email.opened"), (15 * DAY, "task.completed")]
    )
    assert timeline[3:] == [
        (10 * DAY, "task:onboarding_stalled:high"),
        (17 * DAY, "in_app:onboarding.satisfaction_survey"),
    ]


def test_high_touch_onboarding_stall_goes_straight_to_the_csm(seeds) -> None:
    timeline, _ = run(seeds["onboarding"], tier="high", signals=[(HOUR, "email.opened"), (3 * DAY, "login")])
    assert (12 * DAY, "task:onboarding_stalled:high") in timeline
    assert all("onboarding.reminder" not in what for _, what in timeline)
    assert all("satisfaction_survey" not in what for _, what in timeline)


def test_onboarding_usage_decline_during_the_daily_use_weeks_is_a_stall_not_a_thank_you(seeds) -> None:
    timeline, _ = run(
        seeds["onboarding"],
        tier="tech",
        signals=[(HOUR, "email.opened"), (6 * DAY, "feature_used"), (9 * DAY, "usage_declined")],
    )
    assert (9 * DAY, "email:onboarding.reminder") in timeline
    assert all("onboarding.thanks" not in what for _, what in timeline)


# --- renewal --------------------------------------------------------------------------------------

RENEWAL = T0 + 120 * DAY


def test_renewal_unanswered_twice_is_a_churn_risk_then_the_offer_comes_at_60_days(seeds) -> None:
    timeline, state = run(seeds["renewal"], tier="tech", anchors={"renewal_date": RENEWAL})
    assert timeline == [
        (0 * DAY, "email:renewal.reminder_survey"),
        (30 * DAY, "in_app:renewal.reminder_survey"),
        (44 * DAY, "task:renewal_churn_risk:high"),
        (60 * DAY, "email:renewal.offer"),
    ]
    assert state.status == "completed"


@pytest.mark.parametrize("choice", ["unlikely", "undecided"])
def test_renewal_unsure_answer_opens_a_csm_follow_up(seeds, choice: str) -> None:
    timeline, _ = run(
        seeds["renewal"],
        tier="tech",
        anchors={"renewal_date": RENEWAL},
        signals=[(5 * DAY, answer("renewal", choice=choice))],
    )
    assert timeline[1] == (5 * DAY, "task:renewal_follow_up:high")
    assert timeline[-1] == (60 * DAY, "email:renewal.offer")


def test_renewal_likely_answer_skips_straight_to_the_offer_and_renewed_gets_thanks(seeds) -> None:
    timeline, state = run(
        seeds["renewal"],
        tier="tech",
        anchors={"renewal_date": RENEWAL},
        signals=[(5 * DAY, answer("renewal", choice="likely")), (100 * DAY, "renewed")],
    )
    assert timeline == [
        (0 * DAY, "email:renewal.reminder_survey"),
        (60 * DAY, "email:renewal.offer"),
        (100 * DAY, "email:renewal.thanks"),
    ]
    assert (state.status, state.end_reason) == ("exited", "exit on renewed")


def test_high_touch_renewal_starts_with_a_planning_task(seeds) -> None:
    timeline, _ = run(seeds["renewal"], tier="high", anchors={"renewal_date": RENEWAL})
    assert timeline[:2] == [(0 * DAY, "task:renewal_follow_up:medium"), (0 * DAY, "email:renewal.reminder_survey")]
    assert (30 * DAY, "task:renewal_churn_risk:urgent") in timeline


# --- risk -----------------------------------------------------------------------------------------


def test_tech_risk_unread_and_not_recovered_gets_a_csm_task_14_days_after_the_first_mail(seeds) -> None:
    timeline, _ = run(seeds["risk"], tier="tech")
    assert timeline == [
        (0 * DAY, "email:risk.decline_notice"),
        (3 * DAY, "email:risk.use_cases"),
        (14 * DAY, "task:risk_no_recovery:high"),
    ]


def test_tech_risk_recovered_gets_the_feature_survey_and_no_task(seeds) -> None:
    timeline, state = run(seeds["risk"], tier="tech", signals=[(8 * DAY, "usage_improved")])
    assert timeline == [
        (0 * DAY, "email:risk.decline_notice"),
        (3 * DAY, "email:risk.use_cases"),
        (8 * DAY, "in_app:risk.feature_survey"),
    ]
    assert state.status == "completed"


def test_tech_risk_mail_read_but_not_recovered_leaves_the_csm_alone(seeds) -> None:
    timeline, _ = run(seeds["risk"], tier="tech", signals=[(1 * DAY, "email.opened")])
    assert [w for _, w in timeline] == ["email:risk.decline_notice", "email:risk.use_cases"]


def test_low_touch_risk_is_a_webinar_invitation_and_a_low_priority_task(seeds) -> None:
    timeline, _ = run(seeds["risk"], tier="low", signals=[(5 * DAY, "usage_improved")])
    assert timeline == [
        (0 * DAY, "email:risk.use_cases"),
        (0 * DAY, "task:webinar_invite:low"),
        (5 * DAY, "in_app:risk.feature_survey"),
    ]


def test_high_touch_risk_is_an_immediate_csm_task(seeds) -> None:
    timeline, _ = run(seeds["risk"], tier="high")
    assert timeline == [(0 * DAY, "task:risk_high_touch:high")]


# --- advocacy -------------------------------------------------------------------------------------


def test_nps_detractor_gets_a_follow_up_mail_and_a_fast_csm_follow_up(seeds) -> None:
    timeline, _ = run(seeds["advocacy"], tier="tech", signals=[(1 * DAY, answer("nps", score=3, comment="slow"))])
    assert timeline == [
        (0 * DAY, "email:advocacy.nps_survey"),
        (0 * DAY, "in_app:advocacy.nps_survey"),
        (1 * DAY, "email:advocacy.detractor_followup"),
        (1 * DAY, "task:detractor_follow_up:urgent"),
    ]


def test_the_nps_mail_goes_to_decision_makers_and_the_in_app_survey_to_end_users(seeds) -> None:
    steps = {s.id: s for s in seeds["advocacy"].variants["default"]}
    assert (steps["survey_mail"].channel, steps["survey_mail"].to) == ("email", "admins")
    assert (steps["survey_popup"].channel, steps["survey_popup"].to) == ("in_app", "users")


def test_nps_passive_gets_thanks_and_an_interview_ask(seeds) -> None:
    timeline, _ = run(seeds["advocacy"], tier="tech", signals=[(1 * DAY, answer("nps", score=8))])
    assert timeline[2:] == [(1 * DAY, "email:advocacy.passive_thanks"), (1 * DAY, "task:passive_interview:low")]


def test_nps_promoter_who_agrees_to_refer_gets_a_thank_you_mail_and_a_gift_task(seeds) -> None:
    timeline, _ = run(
        seeds["advocacy"],
        tier="tech",
        signals=[(1 * DAY, answer("nps", score=10)), (3 * DAY, answer("referral", choice="yes"))],
    )
    assert timeline[2:] == [
        (1 * DAY, "email:advocacy.promoter_referral_ask"),
        (3 * DAY, "email:advocacy.gift_thanks"),
        (3 * DAY, "task:referral_gift:medium"),
    ]


def test_nps_opened_but_unanswered_gets_one_reminder(seeds) -> None:
    timeline, _ = run(seeds["advocacy"], tier="tech", signals=[(1 * DAY, "email.opened")])
    # Answerable where the survey was asked: the mail again (with its links) and the popup again.
    assert timeline[2:] == [(7 * DAY, "email:advocacy.reminder"), (7 * DAY, "in_app:advocacy.reminder")]


def test_nps_partial_answer_gets_a_reminder_and_unopened_gets_nothing(seeds) -> None:
    partial, _ = run(seeds["advocacy"], tier="tech", signals=[(1 * DAY, answer("nps", comment="hm"))])
    assert partial[2:] == [(1 * DAY, "email:advocacy.reminder"), (1 * DAY, "in_app:advocacy.reminder")]
    silent, state = run(seeds["advocacy"], tier="tech")
    assert len(silent) == 2 and state.status == "completed"


# --- re-engagement and churn ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        ("tech", ["email:reengagement.news", "in_app:reengagement.news"]),
        ("low", ["task:reengagement_low_touch:medium"]),
        ("high", ["task:account_plan:high"]),
    ],
)
def test_reengagement_depends_on_the_tier(seeds, tier: str, expected: list[str]) -> None:
    timeline, _ = run(seeds["reengagement"], tier=tier)
    assert [w for _, w in timeline] == expected


def test_churn_sends_the_exit_survey_and_asks_the_csm_to_learn_the_reason(seeds) -> None:
    timeline, state = run(seeds["churn"], tier="high")
    assert timeline == [(0 * DAY, "email:churn.exit_survey"), (0 * DAY, "task:churn_reason:high")]
    assert state.status == "completed"


def test_cancelled_account_leaves_a_running_onboarding(seeds) -> None:
    timeline, state = run(seeds["onboarding"], tier="tech", signals=[(3 * DAY, "cancelled")])
    assert [w for _, w in timeline] == [
        "email:onboarding.welcome",
        "task:onboarding_no_response:high",
        "email:onboarding.training_invite",
    ]
    assert (state.status, state.end_reason) == ("exited", "exit on cancelled")
