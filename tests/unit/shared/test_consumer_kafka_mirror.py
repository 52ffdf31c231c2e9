"""The runner's copy of its Postgres positions into Kafka's committed offsets (fake consumer).

Kafka's committed offsets only feed lag monitoring, but a copy that falls behind for good
shows lag that is not there (and stalls the simulator's drain barrier), so a failed or hung
commit is kept and tried again when the consumer is idle."""

import asyncio

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from touchline.shared.consumer import ConsumerRunner, RunnerConfig, _ResumeFromDatabase
from touchline.shared.runtime import task_stacks

TP0 = TopicPartition("t", 0)
TP1 = TopicPartition("t", 1)


class FakeConsumer:
    def __init__(self, outcomes: list[str]) -> None:
        self.outcomes = outcomes  # per commit call: "ok", "fail" or "hang"
        self.committed: dict[TopicPartition, int] = {}
        self.calls: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.calls.append(dict(offsets))
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "fail":
            raise CommitFailedError("group rebalanced")
        if outcome == "hang":
            await asyncio.sleep(3600)
        self.committed.update(offsets)


def _runner(consumer: FakeConsumer) -> ConsumerRunner:
    config = RunnerConfig(group_id="g", topic_names=["t"], schema="s", kafka_commit_timeout_s=0.05)
    runner = ConsumerRunner(consumer=consumer, engine=None, publisher=None, handler=None, config=config)  # type: ignore[arg-type]
    runner.state.assigned = {TP0, TP1}
    return runner


async def test_a_commit_refused_once_is_sent_again_with_the_next_one() -> None:
    consumer = FakeConsumer(["fail"])
    runner = _runner(consumer)
    await runner._commit_to_kafka({("t", 0): 10})
    assert consumer.committed == {} and runner.unmirrored == {TP0: 10}
    await runner._commit_to_kafka({("t", 1): 4})
    assert consumer.committed == {TP0: 10, TP1: 4}
    assert runner.unmirrored == {}


async def test_a_commit_that_hangs_is_abandoned_and_the_positions_kept() -> None:
    consumer = FakeConsumer(["hang"])
    runner = _runner(consumer)
    await asyncio.wait_for(runner._commit_to_kafka({("t", 0): 10}), timeout=5)
    assert runner.unmirrored == {TP0: 10}
    await runner._commit_to_kafka({})  # what the idle loop does
    assert consumer.committed == {TP0: 10} and runner.unmirrored == {}


async def test_a_kept_position_only_moves_forward() -> None:
    consumer = FakeConsumer(["fail", "fail"])
    runner = _runner(consumer)
    await runner._commit_to_kafka({("t", 0): 10})
    await runner._commit_to_kafka({("t", 0): 7})
    assert runner.unmirrored == {TP0: 10}


async def test_revoked_partitions_are_not_committed_by_this_member_any_more() -> None:
    consumer = FakeConsumer(["fail"])
    runner = _runner(consumer)
    await runner._commit_to_kafka({("t", 0): 10, ("t", 1): 3})
    await _ResumeFromDatabase(runner).on_partitions_revoked([TP0])
    await runner._commit_to_kafka({})
    assert consumer.calls[-1] == {TP1: 3}
    assert consumer.committed == {TP1: 3}


async def test_the_task_dump_names_each_task_and_where_it_waits() -> None:
    async def waiting_for_a_coordinator() -> None:
        await asyncio.sleep(3600)

    task = asyncio.create_task(waiting_for_a_coordinator(), name="consumer-touch")
    await asyncio.sleep(0)
    try:
        dumped = {str(t["task"]): t for t in task_stacks()}
        assert any("waiting_for_a_coordinator" in frame for frame in dumped["consumer-touch"]["stack"])  # type: ignore[attr-defined]
    finally:
        task.cancel()


class AwayEngine:
    """An engine whose database is away: every connect is refused."""

    def __init__(self) -> None:
        self.tries = 0

    def connect(self) -> "AwayEngine":
        self.tries += 1
        return self

    async def __aenter__(self) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    async def __aexit__(self, *exc: object) -> None:
        return None


class SeekingConsumer:
    def __init__(self) -> None:
        self.seeks: dict[TopicPartition, int] = {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


async def test_an_assignment_while_postgres_is_away_still_counts_the_partitions_as_ours() -> None:
    engine = AwayEngine()
    consumer = SeekingConsumer()
    config = RunnerConfig(group_id="g", topic_names=["t"], schema="s", backoff_s=0.001, seek_attempts=3)
    runner = ConsumerRunner(consumer=consumer, engine=engine, publisher=None, handler=None, config=config)  # type: ignore[arg-type]
    await runner.seek_to_stored([TP0, TP1])
    assert engine.tries == 3
    assert runner.state.assigned == {TP0, TP1}  # so their offsets keep being mirrored to Kafka
    # No seek: Kafka's committed offsets (never ahead of Postgres) decide, and the applied-position
    # filter skips whatever of that was already applied.
    assert consumer.seeks == {}
