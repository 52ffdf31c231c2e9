"""notify's Kafka consumer: commands and product events, one transaction per batch (shared runner)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from touchline.shared.cloudevents import Envelope
from touchline.shared.consumer import ConsumerRunner
from touchline.shared.fates import BatchResult
from touchline.shared.messages import Command
from touchline.shared.runtime import Runtime, start_consumer

from .adapters.pg_repository import PgRepository
from .handlers import Deps, handle_batch
from .topology import TOPOLOGY

GROUP = "notify"
SCHEMA = "notify"


def start(runtime: Runtime, deps: Deps) -> ConsumerRunner:
    async def handler(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> BatchResult:
        repo = PgRepository(conn)
        # Every command reads its account's directory: read it for the whole batch at once.
        await repo.read_ahead(e.message.account_id for e in envelopes if isinstance(e.message, Command))
        return await handle_batch(envelopes, repo=repo, deps=deps)

    return start_consumer(
        runtime,
        group_id=GROUP,
        subscribe=TOPOLOGY.subscribes,
        schema=SCHEMA,
        handler=handler,
    )
