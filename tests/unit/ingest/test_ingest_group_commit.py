"""Concurrent requests share a partition's next record batch; a request returns only once every
batch holding one of its events is acknowledged, and answers 503 (BrokerUnavailable) otherwise."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.producer.message_accumulator import BatchBuilder

from touchline.ingest.adapters.kafka import KafkaEventPublisher
from touchline.ingest.ports import BrokerUnavailable

NOW = datetime(2027, 3, 1, 12, 30, tzinfo=UTC)


def doc(message_id: str, account: str = "acme") -> dict[str, object]:
    return {"message_id": message_id, "account_id": account, "source": "product", "timestamp": NOW, "kind": "track"}


class FakeProducer:
    """A producer whose acknowledgements the test gives (or refuses) by hand."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.sent: list[tuple[int, int, asyncio.Future[object]]] = []  # (partition, records, ack)
        self.refuse = refuse
        self.queue_free = asyncio.Event()  # cleared: send_batch waits, as when aiokafka's queue is full
        self.queue_free.set()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(512 * 1024, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[object]:
        if self.refuse:
            raise KafkaTimeoutError()
        await self.queue_free.wait()
        ack: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, batch._relative_offset, ack))
        return ack


async def until(condition: object) -> None:
    for _ in range(1000):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never met")


async def test_requests_arriving_while_a_batch_is_unacknowledged_share_the_next_batch() -> None:
    producer = FakeProducer()
    publisher = KafkaEventPublisher(lambda: producer, topic_name="t", timeout=5)  # type: ignore[arg-type,return-value]
    first = asyncio.create_task(publisher.publish([doc("m1")]))
    await until(lambda: len(producer.sent) == 1)
    second = asyncio.create_task(publisher.publish([doc("m2"), doc("m3")]))
    third = asyncio.create_task(publisher.publish([doc("m4")]))
    await asyncio.sleep(0)
    assert len(producer.sent) == 1 and not first.done()  # nothing answered before its acknowledgement
    producer.sent[0][2].set_result(None)
    await first
    await until(lambda: len(producer.sent) == 2)
    assert producer.sent[1][1] == 3  # m2, m3 and m4 in one batch
    assert not second.done() and not third.done()
    producer.sent[1][2].set_result(None)
    await asyncio.gather(second, third)


async def test_a_batch_kafka_refuses_fails_every_request_with_an_event_in_it() -> None:
    producer = FakeProducer(refuse=True)
    publisher = KafkaEventPublisher(lambda: producer, topic_name="t", timeout=5)  # type: ignore[arg-type,return-value]
    with pytest.raises(BrokerUnavailable, match="refused"):
        await publisher.publish([doc("m1")])


async def test_an_acknowledgement_that_never_comes_is_a_broker_unavailable_after_the_timeout() -> None:
    producer = FakeProducer()
    publisher = KafkaEventPublisher(lambda: producer, topic_name="t", timeout=0.05)  # type: ignore[arg-type,return-value]
    with pytest.raises(BrokerUnavailable, match="did not acknowledge"):
        await publisher.publish([doc("m1")])


async def test_a_failed_acknowledgement_fails_the_request_and_the_next_batch_still_goes_out() -> None:
    producer = FakeProducer()
    publisher = KafkaEventPublisher(lambda: producer, topic_name="t", timeout=5)  # type: ignore[arg-type,return-value]
    first = asyncio.create_task(publisher.publish([doc("m1")]))
    await until(lambda: len(producer.sent) == 1)
    later = asyncio.create_task(publisher.publish([doc("m2")]))
    producer.sent[0][2].set_exception(KafkaTimeoutError())
    with pytest.raises(BrokerUnavailable):
        await first
    await until(lambda: len(producer.sent) == 2)
    producer.sent[1][2].set_result(None)
    await later


async def test_while_a_partition_is_stuck_new_requests_are_refused_at_once_and_stale_batches_never_sent() -> None:
    producer = FakeProducer()
    producer.queue_free.clear()
    publisher = KafkaEventPublisher(lambda: producer, topic_name="t", timeout=0.05)  # type: ignore[arg-type,return-value]
    with pytest.raises(BrokerUnavailable, match="did not acknowledge"):
        await publisher.publish([doc("m1")])  # its batch is stuck in send_batch
    with pytest.raises(BrokerUnavailable, match="did not acknowledge"):
        await publisher.publish([doc("m2")])  # queued behind it, then given up
    await asyncio.sleep(0.06)
    with pytest.raises(BrokerUnavailable, match="has not acknowledged partition"):
        await publisher.publish([doc("m3")])  # refused without queueing anything
    producer.queue_free.set()
    await until(lambda: len(producer.sent) == 1)
    producer.sent[0][2].set_result(None)
    for _ in range(100):
        await asyncio.sleep(0)
    assert len(producer.sent) == 1  # m2's batch, whose request had been answered 503, was dropped
    recovered = asyncio.create_task(publisher.publish([doc("m4")]))  # the lane recovers
    await until(lambda: len(producer.sent) == 2)
    producer.sent[1][2].set_result(None)
    await recovered
