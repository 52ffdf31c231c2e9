"""Processed message ids are forgotten after the retention (real Postgres, migrated schemas)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import text

from touchline.shared.clock import SimulatedClock
from touchline.shared.db import make_engine, prune_processed
from touchline.shared.runtime import prune_loop
from touchline.shared.settings import CommonSettings

# Far before anything the rest of the session stores, so only this test's rows are old.
OLD = datetime(1990, 1, 1, tzinfo=UTC)


async def _seed(engine, schema: str, tag: str) -> None:  # type: ignore[no-untyped-def]
    rows = [{"id": f"{tag}-old-{n}", "at": OLD + timedelta(hours=n)} for n in range(5)]
    rows += [{"id": f"{tag}-new-{n}", "at": OLD + timedelta(days=40, hours=n)} for n in range(3)]
    async with engine.begin() as conn:
        await conn.execute(text(f"INSERT INTO {schema}.processed_messages (id, seen_at) VALUES (:id, :at)"), rows)


async def _ids(engine, schema: str, tag: str) -> list[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        found = await conn.execute(
            text(f"SELECT id FROM {schema}.processed_messages WHERE id LIKE :p ORDER BY id"), {"p": f"{tag}-%"}
        )
        return [r.id for r in found]


async def test_ids_older_than_the_cutoff_are_forgotten_in_chunks_and_the_rest_kept(common: CommonSettings) -> None:
    engine = make_engine(common.database_url)
    tag = uuid.uuid4().hex[:8]
    try:
        await _seed(engine, "health", tag)
        pruned = await prune_processed(engine, "health", before=OLD + timedelta(days=30), chunk=2)
        assert pruned == 5
        assert await _ids(engine, "health", tag) == [f"{tag}-new-{n}" for n in range(3)]
    finally:
        await engine.dispose()


async def test_the_loop_prunes_by_the_service_clock_and_waits_for_a_simulated_one(common: CommonSettings) -> None:
    engine = make_engine(common.database_url)
    tag = uuid.uuid4().hex[:8]
    clock = SimulatedClock()
    runtime = SimpleNamespace(stop=asyncio.Event(), clock=clock, engine=engine)
    loop = asyncio.create_task(prune_loop(runtime, "touch", retention=timedelta(days=30), every=0.05))  # type: ignore[arg-type]
    try:
        await _seed(engine, "touch", tag)
        await asyncio.sleep(0.3)  # several rounds: the clock has no time yet, so nothing may go
        assert len(await _ids(engine, "touch", tag)) == 8
        clock.set(OLD + timedelta(days=31))
        for _ in range(100):
            if len(await _ids(engine, "touch", tag)) == 8 - 5:
                break
            await asyncio.sleep(0.05)
        assert await _ids(engine, "touch", tag) == [f"{tag}-new-{n}" for n in range(3)]
    finally:
        runtime.stop.set()
        await asyncio.wait_for(loop, timeout=5)
        await engine.dispose()


async def test_every_consuming_service_has_the_index_pruning_reads(common: CommonSettings) -> None:
    engine = make_engine(common.database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT schemaname FROM pg_indexes WHERE indexname = 'processed_messages_seen_at'")
            )
            assert {"health", "touch", "notify"} <= {r.schemaname for r in found}
    finally:
        await engine.dispose()
