"""Customer stories for onboarding, renewal, advocacy, re-engagement and churn, in simulated time."""

from __future__ import annotations

from datetime import timedelta

from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import DAY, eventually, new_account, what  # type: ignore[import-not-found]

HOUR = timedelta(hours=1)


async def tier_is(touch: Touch, account: str, tier: str) -> bool:
    response = await touch.client.get(f"/v1/accounts/{account}/tier")
    return response.status_code == 200 and response.json()["tier"] == tier


async def test_tech_onboarding_that_goes_well_from_signing_to_the_satisfaction_survey(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=2400, lifecycle_stage="onboarding", signed_at=t0.isoformat())
    await eventually(lambda: tier_is(touch, account, "tech"), what="tech tier")
    await touch.feed.track(account, t0, "signed")
    [welcome] = await touch.commands.wait(account, 1, playbook="onboarding")
    assert (what(welcome), welcome.issued_at) == ("email:onboarding.welcome", t0)

    await touch.sim.set(t0 + 2 * HOUR)
    await touch.feed.outcome(welcome, "email.opened", t0 + 2 * HOUR)
    for day in (3, 6, 7, 8, 9, 10, 11):  # logins on 7 days within two weeks: daily use
        await touch.sim.set(t0 + day * DAY)
        await touch.feed.track(account, t0 + day * DAY, "login")
        if day == 6:
            await touch.feed.track(account, t0 + 6 * DAY, "feature_used", feature="reports")
    await touch.sim.set(t0 + 20 * DAY)
    commands = await touch.commands.wait(account, 6, playbook="onboarding")
    assert [(what(c), c.issued_at - t0) for c in commands] == [
        ("email:onboarding.welcome", 0 * DAY),
        ("email:onboarding.training_invite", 2 * DAY),
        ("email:onboarding.setup_material", 5 * DAY),
        ("in_app:onboarding.tips", 6 * DAY),
        ("email:onboarding.thanks", 11 * DAY),
        ("in_app:onboarding.satisfaction_survey", 13 * DAY),
    ]
    assert all(c.channel != "task" for c in touch.commands.of(account, "onboarding"))


async def test_high_touch_onboarding_welcome_not_opened_brings_the_csm_in_the_next_day(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=20_000, lifecycle_stage="onboarding", csm_owner="aki@example.com")
    await eventually(lambda: tier_is(touch, account, "high"), what="high tier (onboarding, mid value)")
    await touch.feed.track(account, t0, "signed")
    await touch.commands.wait(account, 1, playbook="onboarding")
    await touch.sim.set(t0 + 2 * DAY)
    commands = await touch.commands.wait(account, 3, playbook="onboarding")
    assert [(what(c), c.issued_at - t0) for c in commands] == [
        ("email:onboarding.welcome", 0 * DAY),
        ("task:onboarding_no_response:urgent", 1 * DAY),
        ("email:onboarding.training_invite", 2 * DAY),
    ]
    assert commands[1].task is not None and commands[1].task.due_at == t0 + DAY + 4 * HOUR


async def test_renewal_learned_200_days_ahead_and_a_90_day_jump_fires_everything_due_in_order(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    renewal = t0 + 200 * DAY
    await touch.feed.group(account, t0, arr=3000, lifecycle_stage="retention", renewal_date=renewal.isoformat())
    await eventually(lambda: tier_is(touch, account, "tech"), what="tech tier")
    await touch.sim.set(t0 + 79 * DAY)
    assert touch.commands.of(account, "renewal") == []
    await touch.sim.set(t0 + 169 * DAY)  # 90 days past the 120-day mark, nobody answering
    commands = await touch.commands.wait(account, 4, playbook="renewal")
    assert [(what(c), renewal - c.issued_at) for c in commands] == [
        ("email:renewal.reminder_survey", 120 * DAY),
        ("in_app:renewal.reminder_survey", 90 * DAY),
        ("task:renewal_churn_risk:high", 76 * DAY),
        ("email:renewal.offer", 60 * DAY),
    ]
    await touch.sim.set(renewal - DAY)
    await touch.feed.track(account, renewal - DAY, "renewed")
    [*_, thanks] = await touch.commands.wait(account, 5, playbook="renewal")
    assert (what(thanks), thanks.issued_at) == ("email:renewal.thanks", renewal - DAY)


async def test_renewal_undecided_answer_gets_a_csm_follow_up_and_then_the_offer(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    renewal = t0 + 110 * DAY  # learned inside the window: the reminder goes out at once
    await touch.feed.group(account, t0, arr=3000, lifecycle_stage="retention", renewal_date=renewal.isoformat())
    [reminder] = await touch.commands.wait(account, 1, playbook="renewal")
    assert reminder.issued_at == t0
    await touch.sim.set(t0 + DAY)
    await touch.feed.outcome(reminder, "email.answered", t0 + DAY, {"survey": "renewal", "choice": "undecided"})
    await touch.sim.set(renewal - 59 * DAY)
    commands = await touch.commands.wait(account, 3, playbook="renewal")
    assert [(what(c), c.issued_at) for c in commands[1:]] == [
        ("task:renewal_follow_up:high", t0 + DAY),
        ("email:renewal.offer", renewal - 60 * DAY),
    ]
    offer = commands[2].variables["offer"]
    assert offer == {"discount_percent": 10, "event_tickets": None, "free_training": True, "emphasis": True}


async def test_high_touch_renewal_puts_the_csm_on_it_at_120_days_and_escalates_silence_at_90(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    renewal = t0 + 130 * DAY
    await touch.feed.group(account, t0, arr=150_000, renewal_date=renewal.isoformat(), csm_owner="kei@example.com")
    await eventually(lambda: tier_is(touch, account, "high"), what="high tier")
    await touch.sim.set(t0 + 45 * DAY)
    commands = await touch.commands.wait(account, 3, playbook="renewal")
    assert [(what(c), renewal - c.issued_at) for c in commands] == [
        ("task:renewal_follow_up:medium", 120 * DAY),
        ("email:renewal.reminder_survey", 120 * DAY),
        ("task:renewal_churn_risk:urgent", 90 * DAY),
    ]


async def test_nps_twice_a_year_promoter_who_agrees_to_refer_gets_a_gift_task(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=5000, lifecycle_stage="adoption")
    await eventually(lambda: tier_is(touch, account, "tech"), what="tech tier")
    await touch.sim.set(t0 + 31 * DAY)
    mail, popup = await touch.commands.wait(account, 2, playbook="advocacy")
    assert {(what(c), c.issued_at) for c in (mail, popup)} == {
        ("email:advocacy.nps_survey", t0 + 30 * DAY),
        ("in_app:advocacy.nps_survey", t0 + 30 * DAY),
    }
    assert (mail.recipients.role, popup.recipients.role) == ("admins", "users")
    await touch.feed.outcome(popup, "inapp.answered", t0 + 31 * DAY, {"survey": "nps", "score": 10})
    [*_, ask] = await touch.commands.wait(account, 3, playbook="advocacy")
    assert what(ask) == "email:advocacy.promoter_referral_ask"
    answer = {"survey": "referral", "choice": "yes"}
    await touch.feed.outcome(ask, "email.answered", t0 + 31 * DAY, answer, user_id="u-sponsor")
    [*_, thanks, gift] = await touch.commands.wait(account, 5, playbook="advocacy")
    assert what(thanks) == "email:advocacy.gift_thanks"
    assert (thanks.recipients.role, thanks.recipients.user_ids) == ("user", ["u-sponsor"])  # who agreed
    assert what(gift) == "task:referral_gift:medium"
    await touch.sim.set(t0 + 213 * DAY)  # half a year later: asked again
    later = await touch.commands.wait(account, 7, playbook="advocacy")
    assert {c.issued_at for c in later[5:]} == {t0 + 212 * DAY}


async def test_nps_detractor_gets_a_follow_up_mail_and_an_urgent_csm_follow_up(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=60_000)
    await eventually(lambda: tier_is(touch, account, "high"), what="high tier")
    await touch.sim.set(t0 + 30 * DAY)
    mail, _ = await touch.commands.wait(account, 2, playbook="advocacy")
    await touch.feed.outcome(mail, "email.answered", t0 + 30 * DAY, {"survey": "nps", "score": 2, "comment": "slow"})
    [*_, followup, task] = await touch.commands.wait(account, 4, playbook="advocacy")
    assert (what(followup), followup.issued_at) == ("email:advocacy.detractor_followup", t0 + 30 * DAY)
    assert what(task) == "task:detractor_follow_up:urgent" and task.task is not None
    assert task.task.due_at == t0 + 31 * DAY


async def test_no_csm_contact_for_120_days_means_news_for_tech_a_check_in_for_low_and_a_plan_for_high_touch(
    touch: Touch,
) -> None:
    tech, low, high = touch.account(new_account()), touch.account(new_account()), touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(tech, t0, arr=900)
    await touch.feed.group(low, t0, arr=15_000, lifecycle_stage="retention")
    await touch.feed.group(high, t0, arr=70_000)
    await eventually(lambda: tier_is(touch, high, "high"), what="high tier")
    await eventually(lambda: tier_is(touch, low, "low"), what="low tier")
    await eventually(lambda: tier_is(touch, tech, "tech"), what="tech tier")
    await touch.sim.set(t0 + 121 * DAY)
    news = await touch.commands.wait(tech, 2, playbook="reengagement")
    assert {(what(c), c.issued_at) for c in news} == {
        ("email:reengagement.news", t0 + 120 * DAY),
        ("in_app:reengagement.news", t0 + 120 * DAY),
    }
    [plan] = await touch.commands.wait(high, 1, playbook="reengagement")
    assert (what(plan), plan.issued_at) == ("task:account_plan:high", t0 + 120 * DAY)
    [check_in] = await touch.commands.wait(low, 1, playbook="reengagement")
    assert (what(check_in), check_in.issued_at) == ("task:reengagement_low_touch:medium", t0 + 120 * DAY)


async def test_a_completed_csm_task_postpones_reengagement(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=70_000)
    await eventually(lambda: tier_is(touch, account, "high"), what="high tier")
    await touch.feed.health(account, t0, usage_trend=-0.5)
    [task] = await touch.commands.wait(account, 1, playbook="risk")
    await touch.sim.set(t0 + 100 * DAY)
    await touch.feed.outcome(task, "task.completed", t0 + 100 * DAY)
    await touch.sim.set(t0 + 219 * DAY)
    await touch.sim.set(t0 + 221 * DAY)
    [plan] = await touch.commands.wait(account, 1, playbook="reengagement")
    assert plan.issued_at == t0 + 220 * DAY


async def test_a_cancelled_account_gets_the_exit_survey_and_its_other_runs_stop(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=900, lifecycle_stage="onboarding")
    await eventually(lambda: tier_is(touch, account, "tech"), what="tech tier")
    await touch.feed.track(account, t0, "signed")
    await touch.commands.wait(account, 1, playbook="onboarding")
    await touch.sim.set(t0 + 3 * HOUR)
    await touch.feed.track(account, t0 + 3 * HOUR, "cancelled")
    churn = await touch.commands.wait(account, 2, playbook="churn")
    assert [(what(c), c.issued_at) for c in churn] == [
        ("email:churn.exit_survey", t0 + 3 * HOUR),
        ("task:churn_reason:high", t0 + 3 * HOUR),
    ]

    async def onboarding_ended() -> tuple[str, str] | None:
        response = await touch.client.get(f"/v1/accounts/{account}/enrolments")
        [run] = [e for e in response.json() if e["playbook"] == "onboarding"]
        return (run["status"], run["end_reason"]) if run["status"] != "active" else None

    assert await eventually(onboarding_ended) == ("exited", "exit on cancelled")
    assert (await touch.client.get(f"/v1/accounts/{account}/tier")).json()["phase"] == "churned"
    await touch.sim.set(t0 + 40 * DAY)
    assert [what(c) for c in touch.commands.of(account, "onboarding")] == ["email:onboarding.welcome"]
