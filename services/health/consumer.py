"""The health consumer (events + outcomes, one transaction per batch) and the decay sweep loop."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared import topics
from touchline.shared.cloudevents import DEFAULT_READERS, Envelope
from touchline.shared.consumer import BatchHandler, BatchResult, ConsumerRunner
from touchline.shared.messages import ProductEvent, read_product_event_facts
from touchline.shared.runtime import Runtime, start_consumer
from touchline.shared.unit_of_work import unit_of_work

from .adapters.postgres import PostgresHealthRepository, StateCache
from .handlers import HealthContext, handle_batch, sweep_decay
from .topology import TOPOLOGY

log = logging.getLogger(__name__)

GROUP = "health"
SCHEMA = "health"


# Events are read as ProductEventFacts (only the fields scoring uses, decoded with msgspec):
# decoding was the largest single cost per event. Outcomes keep their pydantic model.
READERS = {**DEFAULT_READERS, ProductEvent.ce_type: read_product_event_facts}


def start_health_consumers(
    runtime: Runtime, *, ctx: HealthContext, max_batch: int, consumers: int = 1, cached_accounts: int = 0
) -> list[ConsumerRunner]:
    """``consumers`` consumers of the health group in this process. Partitions are keyed by
    account, so they never score the same account; while one waits on Postgres or the broker,
    another folds and scores (the process is otherwise idle during those waits). Each keeps
    up to ``cached_accounts`` accounts it wrote in memory (see StateCache)."""

    def handler_for(cache: StateCache) -> BatchHandler:
        async def handler(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> BatchResult:
            repo = PostgresHealthRepository(conn, cache=cache)
            return await handle_batch(envelopes, repo=repo, ctx=ctx)

        return handler

    return [
        start_consumer(
            runtime,
            group_id=GROUP,
            subscribe=TOPOLOGY.subscribes,
            schema=SCHEMA,
            handler=handler_for(StateCache(cached_accounts)),
            max_batch=max_batch,
            readers=READERS,
            prune=i == 0,
            # A full batch from the few partitions each consumer holds (events are ~0.5-1 KiB).
            fetch_bytes_per_partition=4 * 1024 * 1024,
        )
        for i in range(consumers)
    ]


@dataclass
class DecayStatus:
    last_swept_at: datetime | None = None  # the clock time the last completed sweep scored as of
    rescored: int = 0


async def sweep_until_done(runtime: Runtime, *, ctx: HealthContext, now: datetime, batch: int) -> int:
    """Re-score every account due by ``now``, ``batch`` accounts per transaction."""
    total = 0
    while True:
        # A crash between publish and commit re-sweeps the same accounts with the same score ids.
        async with unit_of_work(runtime.engine, runtime.publisher) as uow:
            count, outgoing = await sweep_decay(repo=PostgresHealthRepository(uow.conn), ctx=ctx, now=now, limit=batch)
            uow.emit(topics.HEALTH, [m for _, m in outgoing])
        total += count
        if count < batch:
            return total


async def run_decay_loop(
    runtime: Runtime, *, ctx: HealthContext, batch: int, interval_s: float, status: DecayStatus
) -> None:
    """Wake when the clock moves (or every ``interval_s``) and age the accounts that are due."""
    while not runtime.stop.is_set():
        if not runtime.clock.known:
            # A simulated clock's fallback is the wall clock: aging to it would score the future.
            await runtime.clock.changed(timeout=interval_s)
            continue
        now = runtime.clock.now()
        try:
            status.rescored += await sweep_until_done(runtime, ctx=ctx, now=now, batch=batch)
            status.last_swept_at = now
        except Exception:
            # The sweep is idempotent (state-driven); the next wake-up retries it.
            log.exception("decay sweep failed; retrying on the next wake-up")
        await runtime.clock.changed(timeout=interval_s)
