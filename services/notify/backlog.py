"""The backlog gauges: what notify still has to do, for dashboards and for scripts that wait for the
pipeline to settle (consumer lag 0 says the commands were *recorded*; these say they were *carried
out*: mails sent, outcomes published, webhooks posted).

``touchline_notify_backlog{queue=…}`` is measured every ``backlog_seconds`` by one query over the
queues' partial indexes; ``touchline_notify_backlog_measured_timestamp_seconds`` is the wall-clock
time of the last measurement, so a script can wait for a measurement taken after its last action.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from .adapters.pg_backlog import QUEUES, backlog, due_now

log = logging.getLogger(__name__)
BACKLOG = Gauge("touchline_notify_backlog", "Work notify holds and has not finished, per queue", ["queue"])
MEASURED = Gauge(
    "touchline_notify_backlog_measured_timestamp_seconds", "Unix time (wall clock) of the last backlog measurement"
)


async def measure(engine: AsyncEngine, *, gauge: Gauge = BACKLOG) -> dict[str, int]:
    async with engine.connect() as conn:
        found = await backlog(conn)
    for queue in QUEUES:
        gauge.labels(queue=queue).set(found[queue])
    MEASURED.set(time.time())
    return found


async def run(engine: AsyncEngine, *, every: float, stop: asyncio.Event, gauge: Gauge = BACKLOG) -> None:
    """Measure until stopped; a failed measurement (database away) keeps the last values and retries.
    ``gauge``: the process's own by default (a test passes one no other notify in the process writes)."""
    while not stop.is_set():
        try:
            await measure(engine, gauge=gauge)
        except Exception as exc:
            log.warning("backlog measurement failed; retrying", extra={"error": repr(exc)})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def due(engine: AsyncEngine, *, wall_now: datetime) -> dict[str, int]:
    """What GET /pending shows: mail due to be sent or being sent, outcomes to publish."""
    async with engine.connect() as conn:
        return await due_now(conn, wall_now=wall_now)
