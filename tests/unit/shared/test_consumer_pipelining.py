"""The runner fetches and decodes the next batch while the current one is being applied,
but applies batches one at a time and in order (fake consumer, no database)."""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from touchline.shared.cloudevents import Envelope, encode
from touchline.shared.consumer import ConsumerRunner, RunnerConfig
from touchline.shared.messages import ProductEvent

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _record(offset: int) -> SimpleNamespace:
    event = ProductEvent(message_id=f"m-{offset}", account_id="acme", kind="track", timestamp=NOW, received_at=NOW)
    key, value, headers = encode(event, source="test")
    return SimpleNamespace(topic="t", partition=0, offset=offset, key=key, value=value, headers=headers)


class Log(list[str]):
    """What happened, in order; a test can wait for an entry to appear."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def add(self, entry: str) -> None:
        self.append(entry)
        self._seen[entry].set()

    async def seen(self, entry: str) -> None:
        await asyncio.wait_for(self._seen[entry].wait(), 5)


class ScriptedConsumer:
    """Hands out the given batches, then nothing; notes when each poll happened."""

    def __init__(self, batches: list[list[SimpleNamespace]], log: Log) -> None:
        self.batches = batches
        self.log = log

    def subscribe(self, topics: list[str], listener: Any) -> None:
        pass

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[SimpleNamespace]]:
        if not self.batches:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        batch = self.batches.pop(0)
        self.log.add(f"fetched {batch[0].offset}")
        return {"t-0": batch}

    async def commit(self, offsets: dict[Any, int]) -> None:
        pass


class SlowRunner(ConsumerRunner):
    """Applying a batch waits until the test lets it finish."""

    def __init__(self, consumer: ScriptedConsumer, log: Log, fail_at: int | None = None) -> None:
        config = RunnerConfig(group_id="g", topic_names=["t"], schema="s", poll_timeout_ms=10)
        super().__init__(consumer=consumer, engine=None, publisher=None, handler=None, config=config)  # type: ignore[arg-type]
        self.log = log
        self.fail_at = fail_at
        self.release = asyncio.Event()

    async def _apply(self, envelopes: Sequence[Envelope], positions: dict[tuple[str, int], int]) -> None:
        first = envelopes[0].offset
        self.log.add(f"applying {first}")
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.log.add(f"cancelled {first}")
            raise
        if first == self.fail_at:
            raise ConnectionError("database away")
        self.log.add(f"applied {first}")


async def test_the_next_batch_is_fetched_while_one_is_applied_but_applied_only_after_it() -> None:
    log = Log()
    runner = SlowRunner(ScriptedConsumer([[_record(0), _record(1)], [_record(2)]], log), log)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await log.seen("fetched 2")
    await log.seen("applying 0")
    assert "applied 0" not in log and "applying 2" not in log
    runner.release.set()
    await log.seen("applied 2")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert log[-3:] == ["applied 0", "applying 2", "applied 2"]
    assert runner.state.batches == 2


async def test_stopping_waits_for_the_batch_in_flight() -> None:
    log = Log()
    runner = SlowRunner(ScriptedConsumer([[_record(0)]], log), log)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await log.seen("applying 0")
    stop.set()
    await asyncio.sleep(0.05)  # the loop's poll returns; it must not leave the batch behind
    assert not task.done()
    runner.release.set()
    await asyncio.wait_for(task, 5)
    assert log[-1] == "applied 0"


async def test_a_batch_that_fails_outside_the_retries_stops_the_runner_with_its_error() -> None:
    log = Log()
    runner = SlowRunner(ScriptedConsumer([[_record(0)], [_record(1)]], log), log)

    async def broken_process(records: list[Any], **_: Any) -> None:
        raise RuntimeError("dead letter topic missing")

    runner._process = broken_process  # type: ignore[method-assign]
    task = asyncio.create_task(runner.run(asyncio.Event()))
    with pytest.raises(RuntimeError, match="dead letter topic missing"):
        await asyncio.wait_for(task, 5)


async def test_cancelling_the_runner_cancels_the_batch_in_flight() -> None:
    log = Log()
    runner = SlowRunner(ScriptedConsumer([[_record(0)]], log), log)
    task = asyncio.create_task(runner.run(asyncio.Event()))
    await log.seen("applying 0")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log[-1] == "cancelled 0"


async def test_records_that_arrive_while_a_batch_finishes_join_the_next_one() -> None:
    log = Log()
    runner = SlowRunner(ScriptedConsumer([[_record(0)], [_record(1)], [_record(2)]], log), log)
    applied: list[list[int]] = []
    apply = runner._apply

    async def noting(envelopes: Sequence[Envelope], positions: dict[tuple[str, int], int]) -> None:
        await apply(envelopes, positions)
        applied.append([e.offset for e in envelopes])

    runner._apply = noting  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await log.seen("fetched 1")
    runner.release.set()
    await log.seen("applied 1")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert applied == [[0], [1, 2]]
