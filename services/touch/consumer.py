"""Touch's Kafka consumer: events, health scores and outcomes, read by the shared ConsumerRunner."""

from __future__ import annotations

from functools import partial

from touchline.shared.consumer import ConsumerRunner
from touchline.shared.runtime import Runtime, start_consumer

from .flows import Flows
from .handlers import handle_batch
from .topology import TOPOLOGY

GROUP_ID = "touch"
SCHEMA = "touch"


def start(runtime: Runtime, flows: Flows) -> ConsumerRunner:
    return start_consumer(
        runtime,
        group_id=GROUP_ID,
        subscribe=TOPOLOGY.subscribes,
        schema=SCHEMA,
        handler=partial(handle_batch, flows=flows, clock=runtime.clock),
    )
