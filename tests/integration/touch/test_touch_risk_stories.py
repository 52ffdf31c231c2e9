"""Customer stories for the risk playbook, per tier, on the real Kafka and Postgres in simulated time."""

from __future__ import annotations

from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import DAY, eventually, new_account, what  # type: ignore[import-not-found]


async def enrolment_status(touch: Touch, account: str, playbook: str) -> str | None:
    response = await touch.client.get(f"/v1/accounts/{account}/enrolments")
    found = [e for e in response.json() if e["playbook"] == playbook]
    return found[0]["status"] if found else None


async def known_tier(touch: Touch, account: str, tier: str) -> bool:
    response = await touch.client.get(f"/v1/accounts/{account}/tier")
    return response.status_code == 200 and response.json()["tier"] == tier


async def test_tech_account_whose_logins_fall_60_percent_gets_two_mails_then_a_csm_task_when_nothing_was_read(
    touch: Touch,
) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=1200, lifecycle_stage="adoption")
    await eventually(lambda: known_tier(touch, account, "tech"), what="tech tier")
    await touch.feed.health(account, t0, usage_trend=-0.6, previous_band="healthy")

    [notice] = await touch.commands.wait(account, 1)
    assert (what(notice), notice.issued_at, notice.recipients.role) == ("email:risk.decline_notice", t0, "admins")

    await touch.sim.set(t0 + 15 * DAY)  # one jump over both waits: they fire in order, each at its own time
    commands = await touch.commands.wait(account, 3)
    assert [(what(c), c.issued_at) for c in commands[1:]] == [
        ("email:risk.use_cases", t0 + 3 * DAY),
        ("task:risk_no_recovery:high", t0 + 14 * DAY),
    ]
    task = commands[2]
    assert task.recipients.role == "csm_owner" and task.task is not None and task.task.due_at == t0 + 16 * DAY
    assert task.dedup_key == f"{account}:risk_no_recovery:{task.task.reason}"
    assert len({c.command_id for c in commands}) == 3 and task.enrolment_id == notice.enrolment_id


async def test_tech_account_whose_usage_recovers_gets_the_feature_survey_and_no_task(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=1200, lifecycle_stage="adoption")
    await eventually(lambda: known_tier(touch, account, "tech"), what="tech tier")
    await touch.feed.health(account, t0, usage_trend=-0.6)
    await touch.commands.wait(account, 1)

    await touch.sim.set(t0 + 5 * DAY)
    # Back in the product, with a feature the survey can ask about (without one it is not sent).
    await touch.feed.track(account, t0 + 5 * DAY, "feature_used", feature="reports")
    await touch.feed.health(account, t0 + 5 * DAY, band="healthy", previous_band="caution", usage_trend=0.05)
    commands = await touch.commands.wait(account, 3)
    assert [(what(c), c.issued_at) for c in commands] == [
        ("email:risk.decline_notice", t0),
        ("email:risk.use_cases", t0 + 3 * DAY),
        ("in_app:risk.feature_survey", t0 + 5 * DAY),
    ]
    assert commands[-1].variables["features"] == ["reports"]
    await touch.sim.set(t0 + 20 * DAY)
    assert await eventually(lambda: enrolment_status(touch, account, "risk")) == "completed"
    assert [what(c) for c in touch.commands.of(account)] == [what(c) for c in commands]


async def test_low_touch_account_in_decline_gets_a_webinar_invitation_and_a_low_priority_task(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=20_000, lifecycle_stage="adoption")
    await eventually(lambda: known_tier(touch, account, "low"), what="low tier")
    await touch.feed.health(account, t0, days_since_login=21, usage_trend=-0.2)
    commands = await touch.commands.wait(account, 2)
    assert [(what(c), c.issued_at) for c in commands] == [
        ("email:risk.use_cases", t0),
        ("task:webinar_invite:low", t0),
    ]


async def test_high_touch_account_in_decline_gets_an_immediate_csm_task(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=90_000, csm_owner="kei@example.com")
    await eventually(lambda: known_tier(touch, account, "high"), what="high tier")
    await touch.feed.health(account, t0, usage_trend=-0.5)
    [task] = await touch.commands.wait(account, 1)
    assert (what(task), task.issued_at) == ("task:risk_high_touch:high", t0)
    assert task.variables["csm_owner"] == "kei@example.com" and task.variables["tier"] == "high"


async def test_a_second_decline_signal_during_a_run_or_the_cooldown_does_not_enrol_again(touch: Touch) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=90_000)
    await eventually(lambda: known_tier(touch, account, "high"), what="high tier")
    await touch.feed.health(account, t0, usage_trend=-0.5)
    await touch.commands.wait(account, 1)
    await touch.feed.health(account, t0, usage_trend=-0.7)
    await touch.sim.set(t0 + 20 * DAY)  # the first run ended (14 d), still within the 30 d cooldown
    await touch.feed.health(account, t0 + 20 * DAY, usage_trend=-0.7)
    await eventually(lambda: enrolment_status(touch, account, "risk"), what="the run")
    response = await touch.client.get(f"/v1/accounts/{account}/enrolments")
    assert [e["playbook"] for e in response.json()] == ["risk"]
    await touch.sim.set(t0 + 45 * DAY)
    await touch.feed.health(account, t0 + 45 * DAY, usage_trend=-0.7)
    await touch.commands.wait(account, 2, playbook="risk")
    assert [c.issued_at for c in touch.commands.of(account, "risk")] == [t0, t0 + 45 * DAY]
