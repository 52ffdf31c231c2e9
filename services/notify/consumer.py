"""notify's Kafka consumer: commands and product events, one transaction per batch (shared runner)."""

from __future__ import annotations

from functools import partial

from touchline.shared.consumer import ConsumerRunner
from touchline.shared.runtime import Runtime, start_consumer

from .handlers import Deps, handle_batch
from .topology import TOPOLOGY

GROUP = "notify"
SCHEMA = "notify"


def start(runtime: Runtime, deps: Deps) -> ConsumerRunner:
    return start_consumer(
        runtime,
        group_id=GROUP,
        subscribe=TOPOLOGY.subscribes,
        schema=SCHEMA,
        handler=partial(handle_batch, deps=deps),
    )
