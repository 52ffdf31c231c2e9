"""The runner's dead-lettering with a fake publisher (no broker)."""

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from touchline.shared.consumer import ConsumerRunner, RunnerConfig


class FlakyPublisher:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.parked: list[dict[str, Any]] = []

    async def dead_letter(self, topic_name: str, **record: Any) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.parked.append({"topic": topic_name, **record})


def _runner(publisher: FlakyPublisher) -> ConsumerRunner:
    config = RunnerConfig(group_id="g", topic_names=["t"], schema="s", backoff_s=0.001)
    return ConsumerRunner(consumer=None, engine=None, publisher=publisher, handler=None, config=config)  # type: ignore[arg-type]


RECORD = SimpleNamespace(topic="t", partition=0, offset=7, key=b"acme", value=b"x", headers=[])


async def test_a_broker_blip_while_dead_lettering_is_waited_out_not_fatal() -> None:
    publisher = FlakyPublisher([KafkaConnectionError(), KafkaConnectionError()])
    runner = _runner(publisher)
    await runner._dead_letter(RECORD, "bad record")  # type: ignore[arg-type]
    assert [(p["topic"], p["offset"], p["reason"]) for p in publisher.parked] == [("t", 7, "bad record")]
    assert runner.state.dead_lettered == 1


async def test_a_bug_while_dead_lettering_is_not_retried() -> None:
    runner = _runner(FlakyPublisher([RuntimeError("bug")]))
    with pytest.raises(RuntimeError, match="bug"):
        await runner._dead_letter(RECORD, "bad record")  # type: ignore[arg-type]
