"""SIGKILL the health service while it is consuming, restart it: the final state equals a clean run."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson
from health_support import (  # type: ignore[import-not-found]
    account_row,
    busy_history,
    consumed_past,
    eventually,
    new_account,
    produce,
    set_clock,
)

from touchline.health.adapters.scorecard_file import load_scorecards
from touchline.health.domain.account import Policy
from touchline.health.domain.codec import state_to_dict
from touchline.health.handlers import HealthContext, handle_batch
from touchline.health.ports import AccountRecord, Scored
from touchline.shared import topics
from touchline.shared.clock import SimulatedClock
from touchline.shared.cloudevents import Envelope
from touchline.shared.db import make_engine
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import free_port

T = datetime(2031, 8, 1, 12, tzinfo=UTC)


class MemoryRepo:
    """The clean run: the same handler, all events in one batch, state in memory."""

    def __init__(self) -> None:
        self.rows: dict[str, Scored] = {}
        self.seen: set[str] = set()

    async def first_seen(self, ids: Iterable[str], *, now: datetime) -> set[str]:
        new = set(ids) - self.seen
        self.seen |= new
        return new

    async def load(self, account_ids: list[str]) -> dict[str, AccountRecord]:
        return {}

    async def save(self, scored: list[Scored], *, now: datetime) -> None:
        self.rows.update({s.record.state.account_id: s for s in scored})

    async def record_lifecycle(self, facts: object) -> None:
        pass


def _aggregates(state: dict) -> dict:  # type: ignore[type-arg]
    # The per-day score memory depends on where batch boundaries fell, not on the events.
    state = orjson.loads(orjson.dumps(state))
    out = {k: v for k, v in state.items() if k not in ("daily_scores", "band", "pruned_day")}
    return out | {"usage": sorted(out["usage"]), "tickets": sorted(out["tickets"])}


async def test_sigkill_during_processing_then_restart_ends_like_a_clean_run(
    common: CommonSettings, env_for_subprocess: dict[str, str]
) -> None:
    await set_clock(common, None, T)
    accounts = [new_account() for _ in range(12)]
    events = [e for a in accounts for e in busy_history(a, until=T, days=10)]
    env = env_for_subprocess | {"TOUCHLINE_HEALTH_PORT": str(free_port()), "TOUCHLINE_HEALTH_MAX_BATCH": "25"}
    command = [sys.executable, "-m", "touchline.shared.cli", "health"]
    engine = make_engine(common.database_url, pool_size=1)
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = None
    try:
        ends = await produce(common, topics.EVENTS, events)

        async def some_scored() -> bool:
            return any([await account_row(engine, a) for a in accounts])

        await eventually(some_scored, what="the first scores")
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait)
        second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await consumed_past(engine, ends, timeout=120)
        rows = {a: await account_row(engine, a) for a in accounts}
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                await asyncio.to_thread(proc.wait)
        await engine.dispose()

    clean = MemoryRepo()
    ctx = HealthContext(scorecards=load_scorecards(), policy=Policy(), clock=SimulatedClock(T))
    envelopes = [
        Envelope(id=e.event_id(), source="t", type=e.ce_type, message=e, topic="t", partition=0, offset=i, key=None)
        for i, e in enumerate(events)
    ]
    await handle_batch(envelopes, repo=clean, ctx=ctx)  # type: ignore[arg-type]
    for account in accounts:
        row, expected = rows[account], clean.rows[account]
        assert row is not None
        assert _aggregates(row["state"]) == _aggregates(state_to_dict(expected.record.state))
        assert row["score"] == expected.rescored.result.score
        assert row["band"] == expected.rescored.result.band
        assert sum(n for _, n in row["state"]["usage"]) == 10 * 7  # every event counted exactly once
