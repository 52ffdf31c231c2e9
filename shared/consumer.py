"""The consumer runner every service uses: batches, one transaction, offsets in Postgres, DLQ.

For each batch: decode (unreadable records go to ``<topic>.dlq``), hand the envelopes to the
service's handler inside one unit of work (shared/unit_of_work.py): the handler's writes, the
consumed offsets and the messages the handler returns, published before the commit. The
handler's result also says which records it skipped or dead-lettered, and why; once the batch
commits every record's fate is counted (shared/fates.py). On assignment, each partition
resumes from the offset Postgres holds, so a redelivered record changes nothing. Batches are
applied one at a time and in order; the next one is fetched and decoded while the current
one's transaction is in flight.

A failing batch is retried with backoff; if it keeps failing it is replayed one record at
a time so only the poison record is dead-lettered and the partition keeps moving. Errors
that mean "the database or broker is away" (see ``outages``) are retried with capped
backoff for as long as the outage lasts instead, the batch kept: they are not the record's
fault. Meanwhile ``state.waiting_on`` names the dependency, which readiness reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import metrics
from .cloudevents import DEFAULT_READERS, DecodeError, Envelope, Readers, decode_record
from .db import load_offsets, lock_offsets, save_offsets
from .fates import ALREADY_APPLIED, SKIP_REASONS, BatchResult, Outgoing
from .kafka import KafkaPublisher
from .outages import dependency_away, is_transient
from .retry import backoff
from .tracing import RecordSpans, Tracing, trace_by_key
from .unit_of_work import unit_of_work

log = logging.getLogger(__name__)

# The handler's writes go through the connection, in the batch's transaction. It answers with a
# BatchResult (messages + the fate of records it did not apply, see shared/fates.py), or with just
# the messages when every record it was given was applied.
BatchHandler = Callable[[AsyncConnection, Sequence[Envelope]], Awaitable[BatchResult | Outgoing]]


@dataclass
class RunnerConfig:
    group_id: str
    topic_names: list[str]
    schema: str
    max_batch: int = 500
    poll_timeout_ms: int = 200
    retries: int = 3
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    # The Kafka offset commit only feeds lag monitoring; it never holds the partition up longer.
    kafka_commit_timeout_s: float = 10.0
    kafka_commit_retry_s: float = 2.0
    # Tries at reading the stored positions on assignment (inside aiokafka's rebalance callback,
    # which must not wait for a long outage).
    seek_attempts: int = 5


@dataclass
class RunnerState:
    ready: bool = False
    batches: int = 0
    dead_lettered: int = 0
    assigned: set[TopicPartition] = field(default_factory=set)
    # The dependency the current batch waits for (None when the last attempt succeeded).
    waiting_on: str | None = None
    outage_retries: int = 0


__all__ = ["BatchHandler", "BatchResult", "ConsumerRunner", "Outgoing", "RunnerConfig", "RunnerState", "is_transient"]


class _ResumeFromDatabase(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # A batch may still be in flight (aiokafka rebalances in its own task): the offset row
        # lock and the applied-position filter in _apply keep it from applying anything twice
        # if the partition's new owner gets there first.
        self._runner.state.assigned -= set(revoked)
        metrics.partitions_revoked(self._runner.config.group_id, revoked)
        for tp in revoked:
            self._runner.unmirrored.pop(tp, None)
        if revoked:
            log.info("partitions revoked", extra={"group": self._runner.config.group_id, "partitions": len(revoked)})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._runner.seek_to_stored(assigned)


def _decode_all(
    records: list[ConsumerRecord], readers: Readers = DEFAULT_READERS
) -> tuple[list[Envelope], list[tuple[ConsumerRecord, str]]]:
    """(envelopes, unreadable records with the reason) -- pure CPU, no I/O."""
    envelopes: list[Envelope] = []
    unreadable: list[tuple[ConsumerRecord, str]] = []
    for record in records:
        try:
            envelopes.append(decode_record(record, readers))
        except DecodeError as exc:
            unreadable.append((record, str(exc)))
    return envelopes, unreadable


async def _decode_beside(
    records: list[ConsumerRecord],
    in_flight: asyncio.Task[None] | None,
    *,
    readers: Readers = DEFAULT_READERS,
    chunk: int = 500,
) -> tuple[list[Envelope], list[tuple[ConsumerRecord, str]]]:
    """Decode while a batch is in flight, yielding between chunks so that batch's next
    statement is sent as soon as Postgres answers the previous one (instead of after the
    whole decode): the two then overlap rather than take turns."""
    if in_flight is None or in_flight.done():
        return _decode_all(records, readers)
    envelopes: list[Envelope] = []
    unreadable: list[tuple[ConsumerRecord, str]] = []
    for start in range(0, len(records), chunk):
        part = _decode_all(records[start : start + chunk], readers)
        envelopes += part[0]
        unreadable += part[1]
        await asyncio.sleep(0)
    return envelopes, unreadable


class ConsumerRunner:
    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        engine: AsyncEngine,
        publisher: KafkaPublisher,
        handler: BatchHandler,
        config: RunnerConfig,
        readers: Readers = DEFAULT_READERS,
        tracing: Tracing | None = None,
    ) -> None:
        self._consumer = consumer
        self._tracing = tracing
        self._readers = readers
        self._engine = engine
        self._publisher = publisher
        self._handler = handler
        self.config = config
        self.state = RunnerState()
        # Positions stored in Postgres that Kafka's committed offsets do not show yet.
        self.unmirrored: dict[TopicPartition, int] = {}
        # The batch being applied, by position: what a handler's dead-lettered envelopes were.
        self._records: dict[tuple[str, int, int], ConsumerRecord] = {}
        self._next_mirror_try = 0.0

    async def _stored_positions(self, topic_names: set[str]) -> dict[tuple[str, int], int] | None:
        """The positions Postgres holds, waiting out a short outage; None if it stays away."""
        for attempt in range(1, self.config.seek_attempts + 1):
            try:
                async with self._engine.connect() as conn:
                    return await load_offsets(conn, self.config.schema, self.config.group_id, topic_names)
            except Exception as exc:
                if not is_transient(exc) or attempt == self.config.seek_attempts:
                    log.warning(
                        "stored positions unreadable; resuming from Kafka's committed offsets",
                        extra={"group": self.config.group_id, "error": repr(exc)},
                    )
                    return None
                await asyncio.sleep(backoff(attempt + 1, base=self.config.backoff_s, cap=self.config.max_backoff_s))
        return None

    async def seek_to_stored(self, assigned: list[TopicPartition]) -> None:
        # Without the positions, Kafka's committed offsets (never ahead of Postgres) decide where
        # fetching starts; the applied-position filter in _apply skips what was already applied.
        # The partitions still count as assigned: their offsets must keep being mirrored.
        known = await self._stored_positions({tp.topic for tp in assigned})
        stored = known or {}
        for tp in assigned if known is not None else []:
            position = stored.get((tp.topic, tp.partition))
            if position is not None:
                self._consumer.seek(tp, position)
                # A crash between the Postgres commit and the Kafka one leaves Kafka behind;
                # with nothing new to consume it would stay behind and show lag that is not there.
                self.unmirrored[tp] = position
            else:
                # Not seek_to_beginning(): it awaits an offset lookup (up to the request
                # timeout, per partition, silently) inside this callback. Offset 0 below the
                # log start is "out of range", which auto_offset_reset=earliest resolves.
                self._consumer.seek(tp, 0)
        self.state.assigned |= set(assigned)
        log.info(
            "partitions assigned",
            extra={"group": self.config.group_id, "partitions": len(assigned), "resumed": len(stored)},
        )

    async def run(self, stop: asyncio.Event) -> None:
        self._consumer.subscribe(self.config.topic_names, listener=_ResumeFromDatabase(self))
        metrics.consumer_started(self.config.group_id, skip_reasons=SKIP_REASONS)
        self.state.ready = True
        # One batch in flight at a time, in order; the next one is fetched and decoded while
        # the previous one's transaction waits on Postgres (the process was otherwise idle then).
        in_flight: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                batch = await self._consumer.getmany(
                    timeout_ms=self.config.poll_timeout_ms, max_records=self.config.max_batch
                )
                records = [r for part in batch.values() for r in part]
                if records:
                    envelopes, unreadable = await _decode_beside(records, in_flight, readers=self._readers)
                    if in_flight is not None:
                        await in_flight
                        # What arrived while the previous batch finished joins this one, so a
                        # record waits for one transaction ahead of it, as without the overlap.
                        room = self.config.max_batch - len(records)
                        more = await self._consumer.getmany(timeout_ms=0, max_records=room) if room > 0 else {}
                        late = [r for part in more.values() for r in part]
                        if late:
                            records += late
                            extra = _decode_all(late, self._readers)
                            envelopes += extra[0]
                            unreadable += extra[1]
                    in_flight = asyncio.create_task(self._process(records, decoded=(envelopes, unreadable)))
                elif in_flight is not None:
                    await in_flight
                    in_flight = None
                elif self.unmirrored and asyncio.get_running_loop().time() >= self._next_mirror_try:
                    await self._commit_to_kafka({})
            if in_flight is not None:
                await in_flight
        finally:
            if in_flight is not None and not in_flight.done():
                in_flight.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await in_flight

    async def _process(
        self,
        records: list[ConsumerRecord],
        *,
        decoded: tuple[list[Envelope], list[tuple[ConsumerRecord, str]]] | None = None,
    ) -> None:
        started = time.perf_counter()
        self._records = {(r.topic, r.partition, r.offset): r for r in records}
        envelopes, unreadable = decoded if decoded is not None else _decode_all(records, self._readers)
        for record, reason in unreadable:
            await self._dead_letter(record, reason)
        positions = {(r.topic, r.partition): r.offset + 1 for r in records}
        try:
            await self._with_retries(envelopes, positions, self.config.retries)
        except Exception as exc:
            log.warning("batch failed, replaying one record at a time", extra={"error": repr(exc)})
            await self._one_by_one(envelopes, records)
        self.state.batches += 1
        metrics.batch_committed(
            self.config.group_id, records, seconds=time.perf_counter() - started, highwater=self._highwater
        )
        await self._commit_to_kafka(positions)

    def _highwater(self, topic: str, partition: int) -> int | None:
        tp = TopicPartition(topic, partition)
        # A rebalance may have taken the partition while the batch was in flight.
        return self._consumer.highwater(tp) if tp in self.state.assigned else None  # type: ignore[no-any-return]

    async def _one_by_one(self, envelopes: list[Envelope], records: list[ConsumerRecord]) -> None:
        by_position = {(r.topic, r.partition, r.offset): r for r in records}
        for env in envelopes:
            position = {(env.topic, env.partition): env.offset + 1}
            try:
                await self._with_retries([env], position, self.config.retries)
            except Exception as exc:
                await self._dead_letter(by_position[(env.topic, env.partition, env.offset)], f"handler failed: {exc!r}")
                await self._with_retries([], position, self.config.retries)
        # Offsets of records that were unreadable or filtered still advance.
        positions = {(r.topic, r.partition): r.offset + 1 for r in records}
        await self._with_retries([], positions, self.config.retries)

    async def _with_retries(
        self, envelopes: Sequence[Envelope], positions: dict[tuple[str, int], int], retries: int
    ) -> None:
        attempt = 0
        failed = 0  # attempts that failed for the records' sake; outages do not count
        while True:
            try:
                await self._apply(envelopes, positions)
                self.state.waiting_on = None
                return
            except Exception as exc:
                attempt += 1
                away = dependency_away(exc)
                transient = away is not None
                if transient:
                    self.state.waiting_on = away
                    self.state.outage_retries += 1
                else:
                    self.state.waiting_on = None
                    failed += 1
                    if failed > retries:
                        raise
                delay = backoff(attempt + 1, base=self.config.backoff_s, cap=self.config.max_backoff_s)
                metrics.CONSUMER_RETRIES.labels(self.config.group_id, "transient" if transient else "handler").inc()
                log.warning(
                    "batch attempt failed",
                    extra={"attempt": attempt, "transient": transient, "error": repr(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)

    async def _apply(self, envelopes: Sequence[Envelope], positions: dict[tuple[str, int], int]) -> None:
        spans: RecordSpans | None = None
        result = BatchResult()
        try:
            # The handler's writes, the offsets and the handler's messages are one unit of work:
            # the messages are acknowledged before the commit (see shared/unit_of_work.py).
            async with unit_of_work(self._engine, self._publisher) as uow:
                applied_up_to = await lock_offsets(uow.conn, self.config.schema, self.config.group_id, positions)
                fresh = [e for e in envelopes if e.offset >= applied_up_to.get((e.topic, e.partition), 0)]
                if self._tracing is not None and fresh:
                    spans = self._tracing.consuming(fresh, group=self.config.group_id)
                    fresh = spans.envelopes
                if fresh:
                    answer = await self._handler(uow.conn, fresh)
                    result = answer if isinstance(answer, BatchResult) else BatchResult(outgoing=answer)
                await save_offsets(uow.conn, self.config.schema, self.config.group_id, positions)
                for env, reason in result.dead_lettered:
                    await self._park(self._records[(env.topic, env.partition, env.offset)], reason)
                outgoing = result.outgoing
                # What is published for an account continues the trace of the records about it.
                trace = trace_by_key(fresh) if outgoing else None
                for topic in dict.fromkeys(t for t, _ in outgoing):
                    uow.emit(topic, [m for t, m in outgoing if t == topic], trace=trace)
        except BaseException as exc:
            if spans is not None:
                spans.failed(exc)
            raise
        finally:
            if spans is not None:
                spans.end()
        metrics.CONSUMED.labels(self.config.group_id).inc(len(fresh))
        if len(fresh) < len(envelopes):
            metrics.skipped(self.config.group_id, ALREADY_APPLIED, len(envelopes) - len(fresh))
        self._count_fates(result, handled=len(fresh))

    def _count_fates(self, result: BatchResult, *, handled: int) -> None:
        """Once the batch committed: each record the handler was given, by its fate."""
        group = self.config.group_id
        for (fate, reason), count in result.counts(handled).items():
            if fate == "ok":
                metrics.applied(group, count)
            elif fate == "skipped":
                metrics.skipped(group, reason, count)
        for env, reason in result.dead_lettered:
            self.state.dead_lettered += 1
            metrics.dead_lettered(group, env.topic, reason, reason_class=reason)

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        await self._park(record, reason)
        self.state.dead_lettered += 1
        metrics.dead_lettered(self.config.group_id, record.topic, reason)

    async def _park(self, record: ConsumerRecord, reason: str) -> None:
        """Copy the record to ``<topic>.dlq``, waiting out a broker outage."""
        log.error(
            "dead-lettering record",
            extra={"topic": record.topic, "partition": record.partition, "offset": record.offset, "reason": reason},
        )
        attempt = 0
        while True:
            try:
                await self._publisher.dead_letter(
                    record.topic,
                    key=record.key,
                    value=record.value,
                    headers=list(record.headers),
                    reason=reason,
                    offset=record.offset,
                    partition=record.partition,
                )
                break
            except Exception as exc:
                # The broker being away is not the record's fault: wait for it like any batch.
                if not is_transient(exc):
                    raise
                attempt += 1
                metrics.CONSUMER_RETRIES.labels(self.config.group_id, "dead_letter").inc()
                await asyncio.sleep(backoff(attempt + 1, base=self.config.backoff_s, cap=self.config.max_backoff_s))

    async def _commit_to_kafka(self, positions: dict[tuple[str, int], int]) -> None:
        """Mirror the positions Postgres now holds into Kafka's committed offsets.

        Postgres is the source of truth; Kafka's copy only feeds lag monitoring (and the
        simulator's drain barrier). So the commit is bounded by a timeout, and what did not
        make it is kept and tried again when the consumer is idle: a commit that fails once,
        or one that hangs on a coordinator, must neither stop consumption nor leave the lag
        showing records that were processed long ago."""
        for (t, p), o in positions.items():
            tp = TopicPartition(t, p)
            self.unmirrored[tp] = max(o, self.unmirrored.get(tp, 0))
        offsets = {tp: o for tp, o in self.unmirrored.items() if tp in self.state.assigned}
        if not offsets:
            return
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(self._consumer.commit(offsets), timeout=self.config.kafka_commit_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            self._next_mirror_try = loop.time() + self.config.kafka_commit_retry_s
            metrics.CONSUMER_RETRIES.labels(self.config.group_id, "kafka_commit").inc()
            log.warning(
                "kafka offset commit failed; will retry (Postgres holds the offsets)",
                extra={"group": self.config.group_id, "error": repr(exc) or type(exc).__name__},
            )
            return
        for tp, o in offsets.items():
            if self.unmirrored.get(tp) == o:
                del self.unmirrored[tp]
