"""The timer loop's batches: a claim takes many accounts, fires each one's timers in order, keeps
one account's failure from losing the others, and concurrent loops never fire a timer twice.

Times are in the 1990s, before any other test's timers, so only these tests' waits are due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from touch_support import DAY, new_account  # type: ignore[import-not-found]

from touchline.shared.clock import SimulatedClock
from touchline.shared.db import make_engine
from touchline.shared.messages import Command, HealthScored, ProductEvent
from touchline.shared.settings import CommonSettings
from touchline.touch.adapters.postgres import PgRepository
from touchline.touch.decisions import Decisions
from touchline.touch.domain.changes import Account
from touchline.touch.domain.signals import SignalThresholds, from_event, from_health
from touchline.touch.flows import Flows
from touchline.touch.main import load_config
from touchline.touch.settings import TouchSettings
from touchline.touch.timers import TimerLoop


class Recorder:
    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.arrived = asyncio.Event()

    async def publish(self, topic: Any, messages: Sequence[Any], *, trace: Any = None) -> None:
        self.commands += messages
        self.arrived.set()

    def of(self, account: str) -> list[tuple[str, datetime]]:
        return [
            (c.template or c.task.type, c.issued_at)  # type: ignore[union-attr]
            for c in self.commands
            if c.account_id == account and c.playbook == "risk"
        ]


class FailingFor(Decisions):
    """The real decisions, except that firing ``account``'s timers raises (a bug in one run)."""

    def __init__(self, decisions: Decisions, account: str) -> None:
        super().__init__(decisions.config)
        self.account = account

    def fire_due(self, account: Account, *, until: datetime) -> None:
        if account.account_id == self.account:
            raise RuntimeError("a step of this account's run is broken")
        super().fire_due(account, until=until)


@pytest.fixture
async def engine(common: CommonSettings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(common.database_url, pool_size=8)
    yield engine
    await engine.dispose()


async def in_risk(engine: AsyncEngine, flows: Flows, accounts: list[str], *, at: datetime) -> None:
    """Tech-touch accounts whose usage declined at ``at``: waits at 3 and 14 days."""
    async with engine.begin() as conn:
        repo = PgRepository(conn)
        for account in accounts:
            group = ProductEvent(
                message_id=f"{account}-g", account_id=account, kind="group", traits={"arr": 900},
                timestamp=at, received_at=at,
            )  # fmt: skip
            scored = HealthScored(
                score_id=f"{account}-s", account_id=account, score=30, band="caution", computed_at=at,
                usage_trend=-0.6,
            )  # fmt: skip
            inputs = from_event(group) + from_health(scored, thresholds=SignalThresholds())
            await flows.apply(repo, account, inputs, now=at)


async def due_left(engine: AsyncEngine, accounts: list[str], *, until: datetime) -> int:
    async with engine.connect() as conn:
        due = await conn.execute(
            text("SELECT count(*) FROM touch.timers WHERE account_id = ANY(:a) AND fired_at IS NULL AND due_at <= :n"),
            {"a": accounts, "n": until},
        )
        return int(due.scalar_one())


async def fired(recorder: Recorder, account: str) -> None:
    """Until the loop published something for ``account`` (it may fire other tests' leftovers first)."""
    while not recorder.of(account):
        recorder.arrived.clear()
        await recorder.arrived.wait()


async def drain(loop: TimerLoop) -> None:
    while await loop.fire_once():
        pass


async def test_one_claim_fires_every_account_of_the_batch_each_timer_in_order(engine: AsyncEngine) -> None:
    t0 = datetime(1991, 1, 1, 9, tzinfo=UTC)
    flows = Flows(load_config(TouchSettings()))
    accounts = [new_account() for _ in range(12)]
    await in_risk(engine, flows, accounts, at=t0)
    recorder = Recorder()
    loop = TimerLoop(engine=engine, flows=flows, clock=SimulatedClock(t0 + 20 * DAY), publisher=recorder, batch=500)

    assert await loop.fire_once()  # one claim, one unit of work: every account, every due wait
    assert await due_left(engine, accounts, until=t0 + 20 * DAY) == 0
    assert not await loop.fire_once()

    for account in accounts:  # both waits of each account, the 3-day one first, each as of its own time
        assert recorder.of(account) == [("risk.use_cases", t0 + 3 * DAY), ("risk_no_recovery", t0 + 14 * DAY)]
    async with engine.connect() as conn:
        for account in accounts:  # the run's history, written in the batch, reads in the order decided
            rows = await conn.execute(
                text(
                    """SELECT h.step, h.at FROM touch.step_history h JOIN touch.enrolments e ON e.id = h.enrolment_id
                    WHERE e.account_id = :a AND e.playbook = 'risk' ORDER BY h.id"""
                ),
                {"a": account},
            )
            times = [r.at for r in rows]
            assert times == sorted(times) and t0 + 14 * DAY in times
    assert await due_left(engine, accounts, until=t0 + 20 * DAY) == 0


async def test_an_account_whose_step_fails_keeps_its_timers_and_the_others_fire(engine: AsyncEngine) -> None:
    t0 = datetime(1992, 1, 1, 9, tzinfo=UTC)
    flows = Flows(load_config(TouchSettings()))
    accounts = [new_account() for _ in range(6)]
    broken = accounts[2]
    await in_risk(engine, flows, accounts, at=t0)
    flows.decisions = FailingFor(flows.decisions, broken)
    recorder = Recorder()
    clock = SimulatedClock(t0 + 20 * DAY)
    loop = TimerLoop(engine=engine, flows=flows, clock=clock, publisher=recorder, batch=500)

    await drain(loop)  # ends: the broken account is set aside for the round, not claimed forever

    assert recorder.of(broken) == []
    for account in accounts:
        if account != broken:
            assert recorder.of(account) == [("risk.use_cases", t0 + 3 * DAY), ("risk_no_recovery", t0 + 14 * DAY)]
    assert await due_left(engine, [broken], until=t0 + 20 * DAY) == 1  # not lost: still due
    assert await due_left(engine, [a for a in accounts if a != broken], until=t0 + 20 * DAY) == 0

    flows.decisions = Decisions(flows.config)  # the fix is deployed: the next round fires it
    loop._set_aside.clear()  # what run() does at the start of every round
    await drain(loop)
    assert recorder.of(broken) == [("risk.use_cases", t0 + 3 * DAY), ("risk_no_recovery", t0 + 14 * DAY)]


async def test_four_loops_with_small_batches_fire_every_wait_exactly_once(engine: AsyncEngine) -> None:
    t0 = datetime(1993, 1, 1, 9, tzinfo=UTC)
    flows = Flows(load_config(TouchSettings()))
    accounts = [new_account() for _ in range(40)]
    await in_risk(engine, flows, accounts, at=t0)
    clock = SimulatedClock(t0 + 20 * DAY)
    recorders = [Recorder() for _ in range(4)]
    loops = [TimerLoop(engine=engine, flows=flows, clock=clock, publisher=r, batch=3) for r in recorders]

    await asyncio.gather(*(drain(loop) for loop in loops))

    fired = [c for r in recorders for c in r.commands if c.account_id in accounts and c.playbook == "risk"]
    assert len(fired) == len({c.command_id for c in fired}) == 2 * len(accounts)
    async with engine.connect() as conn:
        repeated = await conn.execute(
            text(
                """SELECT h.enrolment_id, h.step, h.visit, h.event, count(*) FROM touch.step_history h
                JOIN touch.enrolments e ON e.id = h.enrolment_id WHERE e.account_id = ANY(:a)
                GROUP BY 1, 2, 3, 4 HAVING count(*) > 1"""
            ),
            {"a": accounts},
        )
        assert repeated.all() == []
    assert await due_left(engine, accounts, until=t0 + 20 * DAY) == 0


async def test_a_claim_passes_over_accounts_another_transaction_holds(engine: AsyncEngine) -> None:
    t0 = datetime(1990, 6, 1, 9, tzinfo=UTC)
    accounts = sorted(new_account() for _ in range(4))
    async with engine.begin() as conn:
        for i, account in enumerate(accounts):
            await PgRepository(conn).set_timer(account, "wait", t0 + timedelta(minutes=i))
    try:
        async with engine.begin() as first, engine.begin() as second:
            taken = await PgRepository(first).claim_due_accounts(until=t0 + DAY, limit=2)
            assert taken == accounts[:2]  # earliest due first
            assert await PgRepository(second).claim_due_accounts(until=t0 + DAY, limit=2) == accounts[2:]
            assert await PgRepository(second).claim_due_accounts(until=t0 + DAY, limit=2, skip=accounts) == []
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM touch.timers WHERE account_id = ANY(:a)"), {"a": accounts})


async def test_a_batch_that_leaves_a_timer_due_wakes_the_loop_without_waiting_for_its_poll(
    engine: AsyncEngine,
) -> None:
    t0 = datetime(1994, 1, 1, 9, tzinfo=UTC)
    flows = Flows(load_config(TouchSettings()))
    account = new_account()
    await in_risk(engine, flows, [account], at=t0)
    now = t0 + 4 * DAY  # the 3-day wait is due; the clock does not move again
    recorder = Recorder()
    loop = TimerLoop(engine=engine, flows=flows, clock=SimulatedClock(now), publisher=recorder, poll_seconds=3600)
    flows.on_due = loop.nudge
    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    try:
        await asyncio.sleep(0)  # the loop is waiting: for the clock, a nudge, or an hour
        # A late event (2 days old) about the account: applied before the due wait, which it
        # leaves due, so the consumer's transaction nudges the loop (before it commits).
        late = t0 + 2 * DAY
        event = ProductEvent(
            message_id=f"{account}-late", account_id=account, kind="group", traits={"arr": 900},
            timestamp=late, received_at=late,
        )  # fmt: skip
        async with engine.begin() as conn:
            assert await flows.apply(PgRepository(conn), account, from_event(event), now=now) == []
        await asyncio.wait_for(fired(recorder, account), timeout=60)  # a bound, far below the hour's poll
        assert recorder.of(account) == [("risk.use_cases", t0 + 3 * DAY)]
    finally:
        stop.set()
        loop.nudge(account)  # let run() see the stop now instead of after its hour
        await running
