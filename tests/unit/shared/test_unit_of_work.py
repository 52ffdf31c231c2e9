"""The unit of work with an in-memory engine and publisher: what is sent, when, and what is committed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection
from uow_fakes import FakeEngine, FakePublisher, command, envelope  # type: ignore[import-not-found]

from touchline.shared import topics
from touchline.shared.cloudevents import Envelope
from touchline.shared.consumer import ConsumerRunner, Outgoing, RunnerConfig
from touchline.shared.unit_of_work import unit_of_work


async def test_emitted_messages_are_acknowledged_before_the_commit() -> None:
    engine = FakeEngine()
    publisher = FakePublisher(engine.log)
    async with unit_of_work(engine, publisher) as uow:  # type: ignore[arg-type]
        await uow.conn.execute("UPDATE")
        uow.emit(topics.COMMANDS, [command("a", "c1")])
        assert publisher.sent == [], "emitting only collects"
    assert engine.log == ["write", "publish touchline.commands", "commit"]


async def test_messages_are_published_in_the_order_emitted_one_publish_per_emit() -> None:
    engine = FakeEngine()
    publisher = FakePublisher(engine.log)
    async with unit_of_work(engine, publisher) as uow:  # type: ignore[arg-type]
        uow.emit(topics.COMMANDS, [command("a", "c1"), command("b", "c2")])
        uow.emit(topics.COMMANDS, [])
        uow.emit(topics.COMMANDS, [command("a", "c3")], trace={"a": []})
        assert [m.command_id for _, m in uow.emitted] == ["c1", "c2", "c3"]  # type: ignore[union-attr]
    assert publisher.sent == [
        ("touchline.commands", ["c1", "c2"], None),
        ("touchline.commands", ["c3"], {"a": []}),
    ]


async def test_when_the_work_fails_nothing_is_published_and_the_transaction_rolls_back() -> None:
    engine = FakeEngine()
    publisher = FakePublisher(engine.log)
    with pytest.raises(RuntimeError, match="decision failed"):
        async with unit_of_work(engine, publisher) as uow:  # type: ignore[arg-type]
            uow.emit(topics.COMMANDS, [command("a", "c1")])
            raise RuntimeError("decision failed")
    assert publisher.sent == [] and engine.log == ["rollback"]


async def test_a_publish_the_broker_did_not_acknowledge_rolls_the_transaction_back() -> None:
    engine = FakeEngine()
    with pytest.raises(ConnectionError):
        async with unit_of_work(engine, FakePublisher(engine.log, fail=True)) as uow:  # type: ignore[arg-type]
            uow.emit(topics.COMMANDS, [command("a", "c1")])
    assert engine.log == ["rollback"]


async def test_a_consumer_batch_publishes_its_handlers_messages_with_the_trace_of_each_accounts_last_record() -> None:
    engine = FakeEngine()
    publisher = FakePublisher(engine.log)
    traceparent = f"00-{'1' * 32}-{'2' * 16}-01"

    async def handler(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> Outgoing:
        return [(topics.COMMANDS, command(e.key or "", f"c{e.offset}")) for e in envelopes]

    config = RunnerConfig(group_id="g", topic_names=["touchline.health"], schema="s")
    runner = ConsumerRunner(consumer=None, engine=engine, publisher=publisher, handler=handler, config=config)  # type: ignore[arg-type]
    batch = [envelope("a", 0, command("a", "x"), traceparent=traceparent), envelope("b", 1, command("b", "y"))]
    await runner._apply(batch, {("touchline.health", 0): 2})
    assert publisher.sent == [
        (
            "touchline.commands",
            ["c0", "c1"],
            {"a": [("ce_traceparent", traceparent.encode()), ("ce_tracestate", b"k=v")]},
        )
    ]
    assert engine.log[-2:] == ["publish touchline.commands", "commit"]
