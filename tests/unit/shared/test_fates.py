"""Every consumed record's fate -- ok, skipped (why), dead-lettered (why) -- counted once its batch commits."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncConnection
from uow_fakes import FakeEngine, FakePublisher, command, envelope  # type: ignore[import-not-found]

from touchline.shared import metrics, topics
from touchline.shared.cloudevents import Envelope
from touchline.shared.consumer import BatchHandler, BatchResult, ConsumerRunner, Outgoing, RunnerConfig
from touchline.shared.fates import SKIP_REASONS

TOPIC = "touchline.health"


def fates(group: str, fate: str, reason: str = "") -> float:
    return (
        REGISTRY.get_sample_value("touchline_consumer_records_total", {"group": group, "fate": fate, "reason": reason})
        or 0.0
    )


def legacy(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def runner(group: str, handler: BatchHandler, engine: FakeEngine, publisher: FakePublisher) -> ConsumerRunner:
    config = RunnerConfig(group_id=group, topic_names=[TOPIC], schema="s")
    r = ConsumerRunner(consumer=None, engine=engine, publisher=publisher, handler=handler, config=config)  # type: ignore[arg-type]
    return r


def batch(n: int) -> tuple[list[Envelope], list[SimpleNamespace]]:
    envelopes = [envelope("a", i, command("a", f"m{i}")) for i in range(n)]
    records = [SimpleNamespace(topic=TOPIC, partition=0, offset=i, key=b"a", value=b"x", headers=[]) for i in range(n)]
    return envelopes, records


def test_records_a_handler_does_not_name_were_applied() -> None:
    envelopes, _ = batch(4)
    result = BatchResult()
    result.skip(envelopes[0], "duplicate")
    result.skip(envelopes[1], "unknown_type")
    result.dead_letter(envelopes[2], "invalid_state")
    assert result.counts(4) == {
        ("skipped", "duplicate"): 1,
        ("skipped", "unknown_type"): 1,
        ("dead_lettered", "invalid_state"): 1,
        ("ok", ""): 1,
    }


async def test_each_fate_is_counted_once_the_batch_commits_and_a_dead_letter_is_parked_before_it() -> None:
    group = "unit-fates"
    engine = FakeEngine()
    publisher = FakePublisher(engine.log)
    envelopes, records = batch(4)

    async def handler(conn: AsyncConnection, given: Sequence[Envelope]) -> BatchResult:
        result = BatchResult()
        result.skip(given[0], "duplicate")
        result.dead_letter(given[1], "invalid_state")
        result.emit(topics.COMMANDS, command("a", "c1"))
        return result

    r = runner(group, handler, engine, publisher)
    r._records = {(rec.topic, rec.partition, rec.offset): rec for rec in records}  # type: ignore[misc]
    before = {
        "ok": fates(group, "ok"),
        "dup": legacy("touchline_skipped_total", group=group, reason="duplicate"),
        "dlq": legacy("touchline_dead_lettered_total", group=group, topic=TOPIC, reason="invalid_state"),
    }
    await r._apply(envelopes, {(TOPIC, 0): 4})
    assert engine.log[-3:] == [f"dead_letter {TOPIC}", "publish touchline.commands", "commit"]
    assert [(p["offset"], p["reason"]) for p in publisher.parked] == [(1, "invalid_state")]
    assert fates(group, "ok") == before["ok"] + 2
    assert fates(group, "skipped", "duplicate") == 1 and fates(group, "dead_lettered", "invalid_state") == 1
    # The names the dashboards and alerts read count the same records.
    assert legacy("touchline_skipped_total", group=group, reason="duplicate") == before["dup"] + 1
    assert (
        legacy("touchline_dead_lettered_total", group=group, topic=TOPIC, reason="invalid_state") == before["dlq"] + 1
    )
    assert r.state.dead_lettered == 1


async def test_a_handler_that_answers_with_messages_only_applied_every_record() -> None:
    group = "unit-fates-plain"
    engine = FakeEngine()

    async def handler(conn: AsyncConnection, given: Sequence[Envelope]) -> Outgoing:
        return []

    envelopes, _ = batch(3)
    await runner(group, handler, engine, FakePublisher(engine.log))._apply(envelopes, {(TOPIC, 0): 3})
    assert fates(group, "ok") == 3 and fates(group, "skipped", "duplicate") == 0


async def test_nothing_is_counted_for_a_batch_that_rolled_back() -> None:
    group = "unit-fates-rollback"
    engine = FakeEngine()

    async def handler(conn: AsyncConnection, given: Sequence[Envelope]) -> BatchResult:
        result = BatchResult()
        result.skip(given[0], "duplicate")
        result.emit(topics.COMMANDS, command("a", "c1"))
        return result

    envelopes, _ = batch(2)
    r = runner(group, handler, engine, FakePublisher(engine.log, fail=True))
    with pytest.raises(ConnectionError):
        await r._apply(envelopes, {(TOPIC, 0): 2})
    assert engine.log[-1] == "rollback"
    assert fates(group, "ok") == 0 and fates(group, "skipped", "duplicate") == 0


def test_a_consumers_fate_series_exist_from_its_start_so_the_first_skip_shows_as_an_increase() -> None:
    group = "unit-fates-start"
    metrics.consumer_started(group, skip_reasons=SKIP_REASONS)
    for reason in ("already_applied", "duplicate", "unknown_type"):
        assert REGISTRY.get_sample_value("touchline_skipped_total", {"group": group, "reason": reason}) == 0
        key = {"group": group, "fate": "skipped", "reason": reason}
        assert REGISTRY.get_sample_value("touchline_consumer_records_total", key) == 0
