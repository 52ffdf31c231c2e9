"""notify's Kafka consumer: commands and product events, one transaction per batch (shared runner)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.cloudevents import Envelope
from touchline.shared.consumer import ConsumerRunner
from touchline.shared.fates import BatchResult
from touchline.shared.runtime import Runtime, start_consumer

from .adapters.pg_repository import PgRepository
from .handlers import Deps, handle_batch
from .topology import TOPOLOGY

GROUP = "notify"
SCHEMA = "notify"


def start(runtime: Runtime, deps: Deps) -> ConsumerRunner:
    async def handler(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> BatchResult:
        return await handle_batch(envelopes, repo=PgRepository(conn), deps=deps)

    return start_consumer(
        runtime,
        group_id=GROUP,
        subscribe=TOPOLOGY.subscribes,
        schema=SCHEMA,
        handler=handler,
    )
