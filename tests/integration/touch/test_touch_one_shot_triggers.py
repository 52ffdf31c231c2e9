"""A date trigger fires once per date value (re-engagement: once per run it allows), on the session's Kafka and Postgres."""

from __future__ import annotations

import uuid

from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import DAY, eventually, new_account, what  # type: ignore[import-not-found]

from touchline.shared import topics
from touchline.shared.messages import Outcome


async def test_reengagement_fires_once_per_run_of_the_silence_never_on_a_profile_update_and_anew_after_contact(
    touch: Touch,
) -> None:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=900, lifecycle_stage="adoption")

    async def profiled() -> bool:
        return (await touch.client.get(f"/v1/accounts/{account}")).status_code == 200

    await eventually(profiled, what="profile")
    await touch.sim.set(t0 + 121 * DAY)
    await touch.commands.wait(account, 2, playbook="reengagement")
    await touch.sim.set(t0 + 151 * DAY)  # still silent a month later: news again
    await touch.commands.wait(account, 4, playbook="reengagement")

    # A long jump: the third and fourth (last) runs fire as of their own days, no more after them.
    await touch.sim.set(t0 + 300 * DAY)
    # The product sends group calls: other traits, then the same; they must not start any run.
    await touch.feed.group(account, t0 + 300 * DAY, arr=900, seats=12)
    await touch.feed.group(account, t0 + 300 * DAY, arr=900, seats=12)
    await touch.sim.set(t0 + 301 * DAY)
    # A risk mail for the same account (same partition) comes after anything the update caused.
    await touch.feed.health(account, t0 + 301 * DAY, usage_trend=-0.6)
    await touch.commands.wait(account, 1, playbook="risk")
    assert [c.issued_at - t0 for c in touch.commands.of(account, "reengagement") if c.channel == "email"] == [
        120 * DAY,
        150 * DAY,
        180 * DAY,
        210 * DAY,
    ]

    # A completed CSM task (a real contact) is a new date: 120 days later the news goes out again.
    contact = Outcome(
        outcome_id=uuid.uuid4().hex,
        account_id=account,
        kind="task.completed",
        detail="completed: resolved",
        occurred_at=t0 + 301 * DAY,
    )
    await touch.feed.send(topics.OUTCOMES, contact)
    await touch.sim.set(t0 + 422 * DAY)
    news = await touch.commands.wait(account, 10, playbook="reengagement")
    assert [(what(c), c.issued_at - t0) for c in news[8:]] == [
        ("email:reengagement.news", 421 * DAY),
        ("in_app:reengagement.news", 421 * DAY),
    ]
