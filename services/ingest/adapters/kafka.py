"""Publishes ProductEvents on the events topic; acknowledged by every in-sync replica or refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from touchline.shared.cloudevents import encode
from touchline.shared.messages import ProductEvent

from ..metrics import PRODUCER_LATENCY
from ..ports import BrokerUnavailable

SOURCE_PREFIX = "touchline/ingest/"


class KafkaEventPublisher:
    """``producer()`` returns the connected idempotent producer (acks=all), or None while connecting."""

    def __init__(self, producer: Callable[[], AIOKafkaProducer | None], *, topic_name: str, timeout: float) -> None:
        self._producer = producer
        self._topic = topic_name
        self._timeout = timeout

    async def publish(self, events: Sequence[ProductEvent]) -> None:
        if not events:
            return
        producer = self._producer()
        if producer is None:
            raise BrokerUnavailable("Kafka is not connected")
        started = time.perf_counter()
        futures: list[asyncio.Future[object]] = []
        try:
            async with asyncio.timeout(self._timeout):
                # Queue every record first, then wait for all acknowledgements together: one round
                # trip per partition batch instead of one per event.
                for event in events:
                    key, value, headers = encode(event, source=SOURCE_PREFIX + event.source, time=event.timestamp)
                    futures.append(await producer.send(self._topic, value=value, key=key, headers=headers))
                await asyncio.gather(*futures)
        except TimeoutError as exc:
            for future in futures:
                future.add_done_callback(_retrieve)  # the client retries; late outcomes are not news
            raise BrokerUnavailable(f"Kafka did not acknowledge within {self._timeout}s") from exc
        except KafkaError as exc:
            raise BrokerUnavailable(f"Kafka refused the events: {exc.__class__.__name__}") from exc
        finally:
            PRODUCER_LATENCY.observe(time.perf_counter() - started)


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
