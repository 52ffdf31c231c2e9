"""The decay loop keeps running when a sweep fails (the sweep is state-driven and idempotent)."""

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from touchline.health.adapters.scorecard_file import load_scorecards
from touchline.health.consumer import DecayStatus, run_decay_loop
from touchline.health.domain.account import Policy
from touchline.health.handlers import HealthContext
from touchline.shared.clock import SimulatedClock


class BrokenEngine:
    def __init__(self, runtime: SimpleNamespace) -> None:
        self.attempts = 0
        self.runtime = runtime

    def begin(self) -> object:
        self.attempts += 1
        if self.attempts >= 2:
            self.runtime.stop.set()
        raise ConnectionError("database away")


async def test_a_failed_sweep_is_logged_and_retried_on_the_next_wake_up(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimulatedClock(datetime(2027, 1, 1, tzinfo=UTC))
    runtime = SimpleNamespace(stop=asyncio.Event(), clock=clock, publisher=None)
    runtime.engine = BrokenEngine(runtime)
    ctx = HealthContext(scorecards=load_scorecards(), policy=Policy(), clock=clock)
    status = DecayStatus()
    await asyncio.wait_for(
        run_decay_loop(runtime, ctx=ctx, batch=10, interval_s=0.01, status=status),  # type: ignore[arg-type]
        timeout=10,
    )
    assert runtime.engine.attempts == 2 and status.last_swept_at is None
    assert "decay sweep failed" in caplog.text


async def test_nothing_ages_before_the_simulated_clock_has_told_the_time() -> None:
    clock = SimulatedClock()  # no clock message yet: now() would be the wall clock
    runtime = SimpleNamespace(stop=asyncio.Event(), clock=clock, publisher=None)
    runtime.engine = BrokenEngine(runtime)
    ctx = HealthContext(scorecards=load_scorecards(), policy=Policy(), clock=clock)
    loop = asyncio.create_task(run_decay_loop(runtime, ctx=ctx, batch=10, interval_s=0.01, status=DecayStatus()))  # type: ignore[arg-type]
    await asyncio.sleep(0.1)
    assert runtime.engine.attempts == 0, "no sweep may run on the wall-clock fallback"
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    await asyncio.wait_for(loop, timeout=10)  # the broken engine stops the loop on its 2nd sweep
    assert runtime.engine.attempts == 2
