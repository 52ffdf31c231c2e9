"""Seed steps that used to fail as a customer lived them (issue 12), on the real Kafka and Postgres
in simulated time: each with its negative twin."""

from __future__ import annotations

from datetime import datetime, timedelta

from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import DAY, eventually, new_account, what  # type: ignore[import-not-found]

from touchline.shared.messages import Command


async def tier_is(touch: Touch, account: str, tier: str) -> bool:
    response = await touch.client.get(f"/v1/accounts/{account}/tier")
    return response.status_code == 200 and response.json()["tier"] == tier


async def declined_after_a_month_at_two_a_day(touch: Touch) -> tuple[str, datetime]:
    """Reports used twice a day for a month, then once a day for the month health measured the decline over."""
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0 - 70 * DAY, arr=1200, lifecycle_stage="adoption")
    await eventually(lambda: tier_is(touch, account, "tech"), what="tech tier")
    for d in range(60, 0, -1):
        for _ in range(2 if d > 30 else 1):
            await touch.feed.track(account, t0 - d * DAY, "feature_used", feature="reports")
    await touch.feed.health(account, t0, usage_trend=-0.6, previous_band="healthy")
    [notice] = await touch.commands.wait(account, 1, playbook="risk")
    assert what(notice) == "email:risk.decline_notice"
    return account, t0


async def use_daily(touch: Touch, account: str, t0: datetime, days: range, per_day: int, feature: str) -> None:
    for d in days:
        await touch.sim.set(t0 + d * DAY)
        for _ in range(per_day):
            await touch.feed.track(account, t0 + d * DAY, "feature_used", feature=feature)


async def test_a_customer_back_at_its_own_level_gets_the_feature_survey_offering_its_features_and_no_task(
    touch: Touch,
) -> None:
    account, t0 = await declined_after_a_month_at_two_a_day(touch)
    await use_daily(touch, account, t0, range(4, 11), 2, "dashboards")  # back the day after the follow-up
    await touch.sim.set(t0 + 20 * DAY)
    commands = await touch.commands.wait(account, 3, playbook="risk")
    # The week after the decline reaches 80 % of the 2 a day before it on day 9.
    assert [(what(c), c.issued_at - t0) for c in commands] == [
        ("email:risk.decline_notice", 0 * DAY),
        ("email:risk.use_cases", 3 * DAY),
        ("in_app:risk.feature_survey", 9 * DAY),
    ]
    assert commands[2].variables["features"] == ["dashboards", "reports"]
    assert all(c.channel != "task" for c in touch.commands.of(account, "risk"))


async def test_a_customer_whose_use_stays_low_gets_no_survey_but_the_csm_after_two_weeks(touch: Touch) -> None:
    account, t0 = await declined_after_a_month_at_two_a_day(touch)
    await use_daily(touch, account, t0, range(4, 14), 1, "dashboards")
    await touch.sim.set(t0 + 20 * DAY)
    commands = await touch.commands.wait(account, 3, playbook="risk")
    assert [(what(c), c.issued_at - t0) for c in commands] == [
        ("email:risk.decline_notice", 0 * DAY),
        ("email:risk.use_cases", 3 * DAY),
        ("task:risk_no_recovery:high", 14 * DAY),
    ]


async def signed_tech_account(touch: Touch) -> tuple[str, datetime, Command]:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=2400, lifecycle_stage="onboarding")
    await eventually(lambda: tier_is(touch, account, "tech"), what="tech tier")
    await touch.feed.track(account, t0, "signed")
    [welcome] = await touch.commands.wait(account, 1, playbook="onboarding")
    return account, t0, welcome


async def test_a_machine_open_of_the_welcome_mail_does_not_cancel_the_hand_off_to_a_human(touch: Touch) -> None:
    account, t0, welcome = await signed_tech_account(touch)
    await touch.feed.outcome(welcome, "email.opened", t0 + timedelta(seconds=4), machine=True)
    await touch.sim.set(t0 + DAY + timedelta(hours=1))
    commands = await touch.commands.wait(account, 2, playbook="onboarding")
    assert (what(commands[1]), commands[1].issued_at) == ("task:onboarding_no_response:high", t0 + DAY)


async def test_a_person_opening_the_welcome_mail_needs_no_human(touch: Touch) -> None:
    account, t0, welcome = await signed_tech_account(touch)
    await touch.sim.set(t0 + timedelta(hours=2))
    await touch.feed.outcome(welcome, "email.opened", t0 + timedelta(hours=2))
    await touch.sim.set(t0 + 2 * DAY + timedelta(hours=1))
    commands = await touch.commands.wait(account, 2, playbook="onboarding")
    assert [what(c) for c in commands] == ["email:onboarding.welcome", "email:onboarding.training_invite"]


async def stalled_onboarding(touch: Touch) -> tuple[str, datetime, Command]:
    account, t0, welcome = await signed_tech_account(touch)
    await touch.sim.set(t0 + timedelta(hours=2))
    await touch.feed.outcome(welcome, "email.opened", t0 + timedelta(hours=2))
    await touch.sim.set(t0 + 11 * DAY)
    commands = await touch.commands.wait(account, 4, playbook="onboarding")
    assert [(what(c), c.issued_at - t0) for c in commands] == [
        ("email:onboarding.welcome", 0 * DAY),
        ("email:onboarding.training_invite", 2 * DAY),
        ("email:onboarding.reminder", 5 * DAY),  # no login since signing: progress not as expected
        ("task:onboarding_stalled:high", 10 * DAY),
    ]
    return account, t0, commands[3]


async def test_a_stalled_onboarding_whose_csm_task_is_open_gets_no_satisfaction_survey(touch: Touch) -> None:
    account, t0, _ = await stalled_onboarding(touch)
    await touch.sim.set(t0 + 60 * DAY)

    async def ended() -> bool:
        response = await touch.client.get(f"/v1/accounts/{account}/enrolments")
        return [e["status"] for e in response.json() if e["playbook"] == "onboarding"] == ["completed"]

    await eventually(ended, what="the onboarding run ended")
    assert len(touch.commands.of(account, "onboarding")) == 4


async def test_a_stalled_onboarding_gets_the_survey_once_the_csm_closed_the_task(touch: Touch) -> None:
    account, t0, task = await stalled_onboarding(touch)
    await touch.sim.set(t0 + 15 * DAY)
    await touch.feed.outcome(task, "task.completed", t0 + 15 * DAY, detail="completed: resolved")
    await touch.sim.set(t0 + 18 * DAY)
    commands = await touch.commands.wait(account, 5, playbook="onboarding")
    assert (what(commands[4]), commands[4].issued_at) == ("in_app:onboarding.satisfaction_survey", t0 + 17 * DAY)


async def test_a_task_closed_as_customer_unreachable_does_not_postpone_reengagement_which_recurs(
    touch: Touch,
) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=70_000)
    await eventually(lambda: tier_is(touch, account, "high"), what="high tier")
    await touch.feed.health(account, t0, usage_trend=-0.5)
    [task] = await touch.commands.wait(account, 1, playbook="risk")
    await touch.sim.set(t0 + 100 * DAY)
    await touch.feed.outcome(task, "task.completed", t0 + 100 * DAY, detail="completed: customer_unreachable")
    await touch.sim.set(t0 + 151 * DAY)
    plans = await touch.commands.wait(account, 2, playbook="reengagement")
    assert [(what(c), c.issued_at - t0) for c in plans] == [
        ("task:account_plan:high", 120 * DAY),
        ("task:account_plan:high", 150 * DAY),  # still silent a month later: a fresh plan task
    ]
    assert plans[0].command_id != plans[1].command_id


async def test_a_band_drop_gets_the_engagement_action_of_the_tier(touch: Touch) -> None:
    tech, high = touch.account(new_account()), touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(tech, t0, arr=1200, lifecycle_stage="adoption")
    await touch.feed.group(high, t0, arr=90_000, lifecycle_stage="adoption")
    await eventually(lambda: tier_is(touch, tech, "tech"), what="tech tier")
    await eventually(lambda: tier_is(touch, high, "high"), what="high tier")
    await touch.feed.health(tech, t0, band="caution", previous_band="healthy")
    await touch.feed.health(high, t0, band="action_required", previous_band="healthy")
    mails = await touch.commands.wait(tech, 2, playbook="band_drop")
    assert {(what(c), c.issued_at) for c in mails} == {
        ("email:band_drop.check_in", t0),
        ("in_app:band_drop.check_in", t0),
    }
    [call] = await touch.commands.wait(high, 1, playbook="band_drop")
    assert (what(call), call.issued_at) == ("task:band_drop_call:urgent", t0)


async def opened_welcome(touch: Touch) -> tuple[str, datetime]:
    account, t0, welcome = await signed_tech_account(touch)
    await touch.sim.set(t0 + timedelta(hours=2))
    await touch.feed.outcome(welcome, "email.opened", t0 + timedelta(hours=2))
    return account, t0


async def test_a_product_reporting_setup_completed_skips_the_setup_material_and_tips_follow_first_use(
    touch: Touch,
) -> None:
    account, t0 = await opened_welcome(touch)
    await touch.sim.set(t0 + 3 * DAY)
    await touch.feed.track(account, t0 + 3 * DAY, "other", event="Setup Completed")
    await touch.sim.set(t0 + 4 * DAY)
    await touch.feed.track(account, t0 + 4 * DAY, "feature_used", feature="reports")
    await touch.sim.set(t0 + 6 * DAY)
    commands = await touch.commands.wait(account, 3, playbook="onboarding")
    assert [(what(c), c.issued_at - t0) for c in commands] == [
        ("email:onboarding.welcome", 0 * DAY),
        ("email:onboarding.training_invite", 2 * DAY),
        ("in_app:onboarding.tips", 4 * DAY),
    ]


async def test_a_customer_who_logged_in_once_gets_no_thanks_for_daily_use(touch: Touch) -> None:
    account, t0 = await opened_welcome(touch)
    await touch.sim.set(t0 + 3 * DAY)
    await touch.feed.track(account, t0 + 3 * DAY, "login")
    await touch.sim.set(t0 + 6 * DAY)
    await touch.feed.track(account, t0 + 6 * DAY, "feature_used", feature="reports")
    await touch.sim.set(t0 + 21 * DAY)
    commands = await touch.commands.wait(account, 5, playbook="onboarding")
    assert [(what(c), c.issued_at - t0) for c in commands] == [
        ("email:onboarding.welcome", 0 * DAY),
        ("email:onboarding.training_invite", 2 * DAY),
        ("email:onboarding.setup_material", 5 * DAY),
        ("in_app:onboarding.tips", 6 * DAY),
        ("email:onboarding.reminder", 20 * DAY),  # 14 days after the tips without daily use
    ]
