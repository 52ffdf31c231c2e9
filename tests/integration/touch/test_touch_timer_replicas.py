"""Durable timers with several replicas: everything due fires exactly once, in order, at its own time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from touch_support import DAY, new_account  # type: ignore[import-not-found]

from touchline.shared.clock import SimulatedClock
from touchline.shared.db import make_engine
from touchline.shared.messages import Command, HealthScored, ProductEvent
from touchline.shared.settings import CommonSettings
from touchline.touch.adapters.postgres import PgRepository
from touchline.touch.domain.signals import SignalThresholds, from_event, from_health
from touchline.touch.flows import Flows
from touchline.touch.main import load_config
from touchline.touch.settings import TouchSettings
from touchline.touch.timers import TimerLoop

# Far beyond the scenario tests' simulated time, so the service's own timer loop never takes these.
T0 = datetime(2090, 1, 1, 9, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.commands: list[Command] = []

    async def publish(self, topic: Any, messages: Sequence[Any], *, trace: Any = None) -> None:
        self.commands += messages


async def test_two_timer_loops_racing_over_a_90_day_jump_fire_each_wait_once_and_in_order(
    common: CommonSettings,
) -> None:
    engine = make_engine(common.database_url, pool_size=6)
    flows = Flows(load_config(TouchSettings()))
    accounts = [new_account() for _ in range(30)]
    try:
        async with engine.begin() as conn:
            repo = PgRepository(conn)
            for account in accounts:
                group = ProductEvent(
                    message_id=f"{account}-g", account_id=account, kind="group", traits={"arr": 900},
                    timestamp=T0, received_at=T0,
                )  # fmt: skip
                scored = HealthScored(
                    score_id=f"{account}-s", account_id=account, score=30, band="caution", computed_at=T0,
                    usage_trend=-0.6,
                )  # fmt: skip
                inputs = from_event(group) + from_health(scored, thresholds=SignalThresholds())
                started = await flows.apply(repo, account, inputs, now=T0)
                assert [c.template for c in started] == ["risk.decline_notice"]

        clock = SimulatedClock(T0 + 90 * DAY)
        recorders = [Recorder(), Recorder()]
        loops = [TimerLoop(engine=engine, flows=flows, clock=clock, publisher=r) for r in recorders]

        async def drain(loop: TimerLoop) -> None:
            while await loop.fire_once():
                pass  # each round awaits the database, so the two loops interleave

        await asyncio.gather(*(drain(loop) for loop in loops))
        fired = [c for r in recorders for c in r.commands if c.account_id in accounts and c.playbook == "risk"]
        assert len(fired) == len({c.command_id for c in fired}) == 2 * len(accounts)
        for account in accounts:
            mine = [c for r in recorders for c in r.commands if c.account_id == account and c.playbook == "risk"]
            assert [(c.template or c.task.type, c.issued_at) for c in mine] == [  # type: ignore[union-attr]
                ("risk.use_cases", T0 + 3 * DAY),
                ("risk_no_recovery", T0 + 14 * DAY),
            ]
        # Nothing left due for these accounts: advocacy (day 30) and re-engagement (day 120) fired or wait.
        async with engine.connect() as conn:
            due = await conn.execute(
                text(
                    "SELECT count(*) FROM touch.timers WHERE account_id = ANY(:a) AND fired_at IS NULL AND due_at <= :n"
                ),
                {"a": accounts, "n": T0 + 90 * DAY},
            )
            assert due.scalar_one() == 0
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM touch.timers WHERE account_id = ANY(:a)"), {"a": accounts})
        await engine.dispose()
