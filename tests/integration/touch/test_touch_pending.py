"""GET /pending on touch: the timers due by the service clock that the loop has not fired yet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from touch_harness import Touch  # type: ignore[import-not-found]

from touchline.shared.db import make_engine
from touchline.shared.settings import CommonSettings
from touchline.touch.adapters.postgres import PgRepository
from touchline.touch.timers import timers_due

# Long before any test's simulated time: no other timer is due by then.
LONG_AGO = datetime(2001, 1, 1, 9, tzinfo=UTC)


@dataclass
class FixedClock:
    at: datetime
    known: bool = True

    def now(self) -> datetime:
        return self.at


@dataclass
class Probe:  # the two parts of a Runtime that timers_due reads
    engine: object
    clock: FixedClock


async def test_a_timer_counts_as_due_from_its_due_time_until_it_has_fired(common: CommonSettings) -> None:
    engine = make_engine(common.database_url)
    account = f"pending-{uuid.uuid4()}"
    try:
        async with engine.begin() as conn:
            await PgRepository(conn).set_timer(account, "wait", LONG_AGO)
        assert await timers_due(Probe(engine, FixedClock(LONG_AGO - timedelta(seconds=1)))) == {"timers_due": 0}
        assert await timers_due(Probe(engine, FixedClock(LONG_AGO))) == {"timers_due": 1}
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE touch.timers SET fired_at = :t WHERE account_id = :a"), {"t": LONG_AGO, "a": account}
            )
        assert await timers_due(Probe(engine, FixedClock(LONG_AGO + timedelta(days=1)))) == {"timers_due": 0}
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM touch.timers WHERE account_id = :a"), {"a": account})
        await engine.dispose()


async def test_get_pending_answers_with_the_timers_due_now(touch: Touch) -> None:
    await touch.sim.set(await touch.sim.fresh_start())
    body = (await touch.client.get("/pending")).json()
    assert set(body["pending"]) == {"timers_due"} and body["total"] == body["pending"]["timers_due"]
    assert datetime.fromisoformat(body["now"]) == touch.runtime.clock.now()
