"""A one-shot date trigger fires once per date value, on the session's Kafka and Postgres."""

from __future__ import annotations

import uuid

from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import DAY, eventually, new_account, what  # type: ignore[import-not-found]

from touchline.shared import topics
from touchline.shared.messages import Outcome


async def test_reengagement_that_fired_is_not_started_again_by_a_profile_update_only_by_new_csm_contact(
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

    # 220 days in, past the 90-day cooldown, the product sends group calls: other traits, then the same.
    await touch.sim.set(t0 + 220 * DAY)
    await touch.feed.group(account, t0 + 220 * DAY, arr=900, seats=12)
    await touch.feed.group(account, t0 + 220 * DAY, arr=900, seats=12)
    await touch.sim.set(t0 + 221 * DAY)
    # A risk mail for the same account (same partition) comes after anything the update caused.
    await touch.feed.health(account, t0 + 221 * DAY, usage_trend=-0.6)
    await touch.commands.wait(account, 1, playbook="risk")
    assert len(touch.commands.of(account, "reengagement")) == 2

    # A completed CSM task is a new date: 120 days later the news goes out again.
    contact = Outcome(
        outcome_id=uuid.uuid4().hex, account_id=account, kind="task.completed", occurred_at=t0 + 221 * DAY
    )
    await touch.feed.send(topics.OUTCOMES, contact)
    await touch.sim.set(t0 + 342 * DAY)
    news = await touch.commands.wait(account, 4, playbook="reengagement")
    assert [(what(c), c.issued_at - t0) for c in news] == [
        ("email:reengagement.news", 120 * DAY),
        ("in_app:reengagement.news", 120 * DAY),
        ("email:reengagement.news", 341 * DAY),
        ("in_app:reengagement.news", 341 * DAY),
    ]
