"""Touch's Kafka consumer: events, health scores and outcomes, read by the shared ConsumerRunner."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.cloudevents import Envelope
from touchline.shared.consumer import BatchResult, ConsumerRunner
from touchline.shared.runtime import Runtime, start_consumer

from .adapters.postgres import PgRepository
from .flows import Flows
from .handlers import handle_batch
from .topology import TOPOLOGY

GROUP_ID = "touch"
SCHEMA = "touch"


def start(runtime: Runtime, flows: Flows) -> ConsumerRunner:
    async def handler(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> BatchResult:
        return await handle_batch(envelopes, repo=PgRepository(conn), flows=flows, clock=runtime.clock)

    return start_consumer(
        runtime,
        group_id=GROUP_ID,
        subscribe=TOPOLOGY.subscribes,
        schema=SCHEMA,
        handler=handler,
    )
