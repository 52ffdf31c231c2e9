"""Touch's durable timers: how fast a 90-day jump drains, vs a bare SKIP LOCKED timer table. Not a test.

In one run, on the same database server:
- baseline: a bare timer table (one row per wait) drained by loops that claim the earliest due
  row ``FOR UPDATE SKIP LOCKED``, delete it and commit: the least a durable timer can cost;
- touch: N tech-touch accounts in the risk playbook (two waits each: the follow-up mail at 3 days
  and the CSM task at 14 days), drained by touch's TimerLoop after a 90-day jump: claim, per-account
  lock, load the enrolment, advance it as of the due time, write state + history + next timer,
  build the commands. Publishing is a no-op in both, so this measures the timer path, not Kafka.

    .venv/bin/python -m bench.touch_timers [--waits 4000,40000] [--loops 1,4] [--batch 100]

40,000 waits take minutes (enrolling 20,000 accounts one by one dominates); not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from touchline.shared.clock import SimulatedClock
from touchline.shared.db import make_engine
from touchline.shared.messages import HealthScored, ProductEvent
from touchline.shared.migrate import upgrade_all
from touchline.shared.stack.testing import ensure_infra, fresh_database
from touchline.touch.adapters.postgres import PgRepository
from touchline.touch.domain.signals import SignalThresholds, from_event, from_health
from touchline.touch.flows import Flows
from touchline.touch.main import load_config
from touchline.touch.settings import TouchSettings
from touchline.touch.timers import TimerLoop

HOME = Path(os.environ.get("TOUCHLINE_HOME", Path(__file__).resolve().parents[1] / ".touchline"))
T0 = datetime(2040, 1, 1, 9, tzinfo=UTC)


class NoPublish:
    def __init__(self) -> None:
        self.count = 0

    async def publish(self, topic: Any, messages: Sequence[Any], *, trace: Any = None) -> None:
        self.count += len(messages)


ENROLLERS = 4  # setting up 20,000 accounts one by one takes minutes; not part of the measure


async def enrol_accounts(flows: Flows, engine: Any, prefix: str, n: int) -> None:
    chunks = iter(range(0, n, 200))

    async def enroller() -> None:
        for start in chunks:
            await enrol_chunk(flows, engine, prefix, start, min(n, start + 200))

    await asyncio.gather(*(enroller() for _ in range(ENROLLERS)))


async def enrol_chunk(flows: Flows, engine: Any, prefix: str, start: int, end: int) -> None:
    async with engine.begin() as conn:
        repo = PgRepository(conn)
        for i in range(start, end):
            account = f"{prefix}-{i}"
            group = ProductEvent(
                message_id=f"{account}-g", account_id=account, kind="group", traits={"arr": 900},
                timestamp=T0, received_at=T0,
            )  # fmt: skip
            scored = HealthScored(
                score_id=f"{account}-s", account_id=account, score=30, band="caution", computed_at=T0,
                usage_trend=-0.6,
            )  # fmt: skip
            inputs = from_event(group) + from_health(scored, thresholds=SignalThresholds())
            await flows.apply(repo, account, inputs, now=T0)


async def touch_drain(database_url: str, accounts: int, loops: int, batch: int | None) -> tuple[float, int]:
    engine = make_engine(database_url, pool_size=max(loops, ENROLLERS) + 2)
    flows = Flows(load_config(TouchSettings()))
    prefix = f"bench{accounts}-{loops}"
    await enrol_accounts(flows, engine, prefix, accounts)
    clock = SimulatedClock(T0 + timedelta(days=15))  # past both waits, before advocacy (day 30)
    publishers = [NoPublish() for _ in range(loops)]
    sized = {"batch": batch} if batch else {}
    timer_loops = [TimerLoop(engine=engine, flows=flows, clock=clock, publisher=p, **sized) for p in publishers]

    async def drain(loop: TimerLoop) -> None:
        while await loop.fire_once():
            pass

    began = time.perf_counter()
    await asyncio.gather(*(drain(loop) for loop in timer_loops))
    elapsed = time.perf_counter() - began
    await engine.dispose()
    return elapsed, sum(p.count for p in publishers)


async def baseline_drain(database_url: str, rows: int, loops: int, *, per_transaction: int = 1) -> float:
    engine = make_engine(database_url, pool_size=loops + 2)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS public.bench_timers"))
        await conn.execute(text("CREATE TABLE public.bench_timers (id bigserial PRIMARY KEY, due_at timestamptz)"))
        await conn.execute(text("CREATE INDEX ON public.bench_timers (due_at)"))
        await conn.execute(
            text(
                "INSERT INTO public.bench_timers (due_at) SELECT CAST(:t AS timestamptz) + make_interval(mins => g) FROM generate_series(1, :n) g"
            ),
            {"t": T0, "n": rows},
        )

    async def drain() -> None:
        while True:
            async with engine.begin() as conn:
                row = await conn.execute(
                    text(
                        """DELETE FROM public.bench_timers WHERE id IN (SELECT id FROM public.bench_timers
                        WHERE due_at <= :now ORDER BY due_at LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING id"""
                    ),
                    {"now": T0 + timedelta(days=90), "n": per_transaction},
                )
                if row.first() is None:
                    return

    began = time.perf_counter()
    await asyncio.gather(*(drain() for _ in range(loops)))
    elapsed = time.perf_counter() - began
    await engine.dispose()
    return elapsed


async def main(sizes: list[int], loop_counts: list[int], batch: int | None) -> None:
    infra = ensure_infra(HOME)
    database_url = await fresh_database(infra.database_url)
    await upgrade_all(database_url)
    for waits in sizes:
        accounts = waits // 2
        print(f"touch timers: {accounts} accounts in the risk playbook, {waits} waits falling due in one 90-day jump")
        for loops in loop_counts:
            base = await baseline_drain(database_url, waits, loops)
            spent, commands = await touch_drain(database_url, accounts, loops, batch)
            assert commands == waits, f"expected {waits} commands, got {commands}"
            # Not the target's baseline: the least a batch of as many rows per transaction costs,
            # to show what is left once the commit is amortised on both sides.
            batched = await baseline_drain(database_url, waits, loops, per_transaction=2 * (batch or TimerLoop.batch))
            print(
                f"  {loops} loop(s): touch {waits / spent:8.0f} waits/s ({spent:6.2f} s for all)"
                f"   | baseline bare SKIP LOCKED claim+delete {waits / base:8.0f} rows/s ({base:6.2f} s)"
                f"   | ratio {base / spent:4.2f}"
                f"   | (batched bare claim+delete {waits / batched:6.0f} rows/s, ratio {batched / spent:4.2f})",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", default="4000", help="comma-separated numbers of waits (two per account)")
    parser.add_argument("--loops", default="1,4", help="comma-separated numbers of concurrent timer loops")
    parser.add_argument("--batch", type=int, default=None, help="accounts per unit of work (default: TimerLoop's)")
    args = parser.parse_args()
    asyncio.run(main([int(x) for x in args.waits.split(",")], [int(x) for x in args.loops.split(",")], args.batch))
