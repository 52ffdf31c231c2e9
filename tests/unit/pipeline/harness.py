"""The four services in one process: an in-memory bus, fake SMTP and a simulated clock.

A story drives the pipeline from the outside, as a product and a customer would::

    pipe = Pipeline(start=T0)
    await pipe.send([group("acc-1", name="Acme", signed_at=...), identify("u1", "acc-1", email=...)])
    await pipe.drain()                      # ingest -> events -> health, touch, notify -> ... -> SMTP
    await pipe.advance(T0 + 2 * DAY)        # the clock moves: timers fire, scores age
    assert [m["Subject"] for m in pipe.mails()] == [...]

What runs is each service's own code: ingest's Segment parsing and ``accept`` handler, the CloudEvents
encoding and decoding the Kafka adapters use, and the batch handlers health, touch and notify run
in production (``handle_batch``), over the in-memory fakes of their repository ports that their
own unit tests use (tests/unit/<service>/*_fakes.py). Touch's timers fire through ``Flows.fire_due``
as its timer loop does, health ages scores through ``sweep_decay``, and notify's mail delivery
composes each pending delivery with ``delivery.mail_for`` and hands it to a Mailer that keeps it.

What it does not model (the integration and e2e suites run those on the real Kafka and Postgres):
partitions, ordering across topics, rebalances and redelivery after a crash; SQL (locks,
constraints, the real queries), transactions and rollback (a handler that raises fails the story
instead of being retried and dead-lettered); the SMTP conversation, retries and leases; webhooks,
the HTTP APIs and the outbox relay's timing.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NamedTuple

UNIT = Path(__file__).resolve().parents[1]
for _service in ("health", "ingest", "notify", "touch"):
    # Each service's fakes live beside its tests (pytest puts that folder on the path only when it
    # collects a test there): the harness reuses them rather than keeping copies.
    if str(UNIT / _service) not in sys.path:
        sys.path.insert(0, str(UNIT / _service))

from health_fakes import FakeRepo as FakeHealthRepo  # noqa: E402
from ingest_fakes import FakeIdentities  # noqa: E402
from notify_fakes import FakeNotifyRepo  # noqa: E402
from touch_fakes import FakeRepo as FakeTouchRepo  # noqa: E402

from touchline.health import handlers as health  # noqa: E402
from touchline.health.adapters.scorecard_file import load_scorecards  # noqa: E402
from touchline.health.consumer import READERS as HEALTH_READERS  # noqa: E402
from touchline.health.domain.account import Policy  # noqa: E402
from touchline.health.topology import TOPOLOGY as HEALTH  # noqa: E402
from touchline.ingest import handlers as ingest  # noqa: E402
from touchline.ingest.adapters.kafka import encode as encode_event  # noqa: E402
from touchline.ingest.domain import Limits, TimePolicy  # noqa: E402
from touchline.ingest.payloads import parse_batch  # noqa: E402
from touchline.ingest.semantics import EventDoc  # noqa: E402
from touchline.notify import engagement  # noqa: E402
from touchline.notify import handlers as notify  # noqa: E402
from touchline.notify.compose import Composer  # noqa: E402
from touchline.notify.delivery import mail_for  # noqa: E402
from touchline.notify.domain.branding import Brand  # noqa: E402
from touchline.notify.domain.outcomes import outcome_for  # noqa: E402
from touchline.notify.settings import TEMPLATES_DIR, NotifySettings  # noqa: E402
from touchline.notify.task_handlers import TaskDeps  # noqa: E402
from touchline.notify.templates import Catalog  # noqa: E402
from touchline.notify.topology import TOPOLOGY as NOTIFY  # noqa: E402
from touchline.shared import topics  # noqa: E402
from touchline.shared.clock import SimulatedClock  # noqa: E402
from touchline.shared.cloudevents import (  # noqa: E402
    DEFAULT_READERS,
    DecodeError,
    Encoded,
    Envelope,
    Headers,
    Readers,
    decode_record,
    encode,
)
from touchline.shared.fates import BatchResult, Fate, Outgoing  # noqa: E402
from touchline.shared.messages import Command, Message  # noqa: E402
from touchline.touch import handlers as touch  # noqa: E402
from touchline.touch.domain.engine import Enrolment  # noqa: E402
from touchline.touch.flows import Flows  # noqa: E402
from touchline.touch.main import load_config  # noqa: E402
from touchline.touch.settings import TouchSettings  # noqa: E402
from touchline.touch.topology import TOPOLOGY as TOUCH  # noqa: E402

MAIL_FROM = "Customer Success <cs@touchline.test>"
WRITE_KEY_SOURCE = "product"  # the ingest source name a write key maps to
QUIET_AFTER = 1000  # rounds of drain() before a story that never settles is called a loop


class Record(NamedTuple):
    """One record on the bus, shaped as aiokafka's ConsumerRecord (what decode_record reads)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers


class Bus:
    """Every topic as one partition: a list of CloudEvents records, in the order they were published."""

    def __init__(self) -> None:
        self.log: list[Record] = []  # all topics, in publish order: a consumer's cursor walks it
        self.offsets: Counter[str] = Counter()

    def append(self, topic_name: str, key: bytes, value: bytes, headers: Headers) -> None:
        self.log.append(Record(topic_name, 0, self.offsets[topic_name], key, value, headers))
        self.offsets[topic_name] += 1

    def messages(self, topic: topics.Topic) -> list[Envelope]:
        return [decode_record(r) for r in self.log if r.topic == topic.name]


@dataclass
class BusPublisher:
    """shared.unit_of_work.Publisher on the bus: each message encoded as the Kafka publisher does."""

    bus: Bus
    source: str

    async def publish(
        self,
        topic: topics.Topic,
        messages: Sequence[Message | Encoded],
        *,
        trace: Mapping[str, Headers] | None = None,
        time: datetime | None = None,
    ) -> None:
        for message in messages:
            key, value, headers = encode(message, source=self.source, time=time)
            self.bus.append(topic.name, key, value, headers)


@dataclass
class BusEventPublisher:
    """ingest's EventPublisher on the bus, with the records its Kafka adapter builds."""

    bus: Bus

    async def publish(self, events: Sequence[EventDoc]) -> None:
        for event in events:
            key, value, headers = encode_event(event)
            self.bus.append(topics.EVENTS.name, key, value, headers)


class FakeSmtp:
    """notify's Mailer port: keeps every message it is given."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


Handler = Callable[[Sequence[Envelope]], Awaitable[BatchResult | Outgoing]]


@dataclass
class Consumer:
    """One consumer group, as shared/consumer.py runs it: decode a batch, hand it to the service's
    handler, publish what it returns, count every record's fate."""

    group: str
    subscribes: list[topics.Topic]
    handler: Handler
    publisher: BusPublisher
    readers: Readers = field(default_factory=lambda: DEFAULT_READERS)
    max_batch: int = 500
    position: int = 0  # into Bus.log
    fates: Counter[tuple[Fate, str]] = field(default_factory=Counter)
    unreadable: list[tuple[Record, str]] = field(default_factory=list)

    async def poll(self, bus: Bus) -> int:
        """Handle the next batch; how many records it held (0: nothing new)."""
        names = {t.name for t in self.subscribes}
        batch: list[Record] = []
        while self.position < len(bus.log) and len(batch) < self.max_batch:
            record = bus.log[self.position]
            self.position += 1
            if record.topic in names:
                batch.append(record)
        await self.handle(batch)
        return len(batch)

    async def handle(self, records: Sequence[Record]) -> None:
        envelopes = []
        for record in records:
            try:
                envelopes.append(decode_record(record, self.readers))
            except DecodeError as exc:
                self.unreadable.append((record, str(exc)))
                self.fates["dead_lettered", "unreadable"] += 1
        if not envelopes:
            return
        result = await self.handler(envelopes)
        if isinstance(result, BatchResult):
            self.fates.update(result.counts(len(envelopes)))
            outgoing = result.outgoing
        else:
            self.fates["ok", ""] += len(envelopes)
            outgoing = result
        for topic, message in outgoing:
            await self.publisher.publish(topic, [message])


class Pipeline:
    """ingest -> health -> touch -> notify, in memory (see the module for what it covers)."""

    def __init__(self, *, start: datetime, touch_settings: TouchSettings | None = None) -> None:
        self.clock = SimulatedClock(start)
        self.bus = Bus()
        self.smtp = FakeSmtp()
        self.identities = FakeIdentities()
        self.health_repo = FakeHealthRepo()
        self.touch_repo = FakeTouchRepo()
        self.notify_repo = FakeNotifyRepo()
        self.health_ctx = health.HealthContext(scorecards=load_scorecards(), policy=Policy(), clock=self.clock)
        self.flows = Flows(load_config(touch_settings or TouchSettings()))
        brand = Brand("Acme Cloud", "https://help.acme.test", "https://support.acme.test", None)
        composer = Composer(
            Catalog.load(TEMPLATES_DIR),
            public_url="http://notify.test",
            link_secret="pipeline-secret",
            mail_from=MAIL_FROM,
            default_locale="en",
            brand=brand,
        )
        tasks = TaskDeps(
            composer, pools={"default": ["csm-a@touchline.test", "csm-b@touchline.test"]}, now=self.clock.now
        )
        self.notify_deps = notify.Deps(composer, tasks, inapp_expiry=timedelta(days=14), now=self.clock.now)
        self.ingest_ports = ingest.Ports(identities=self.identities, publisher=BusEventPublisher(self.bus))
        self.publishers = {name: BusPublisher(self.bus, f"touchline/{name}") for name in ("health", "touch", "notify")}
        self.consumers = [
            Consumer("health", HEALTH.subscribes, self._health, self.publishers["health"], readers=HEALTH_READERS),
            Consumer("touch", TOUCH.subscribes, self._touch, self.publishers["touch"]),
            Consumer("notify", NOTIFY.subscribes, self._notify, self.publishers["notify"]),
        ]
        self.relayed: set[str] = set()  # outcome ids notify's outbox relay published

    # --- the services' batch handlers, over the fakes ----------------------------------------------

    async def _health(self, envelopes: Sequence[Envelope]) -> BatchResult:
        return await health.handle_batch(envelopes, repo=self.health_repo, ctx=self.health_ctx)

    async def _touch(self, envelopes: Sequence[Envelope]) -> BatchResult:
        return await touch.handle_batch(envelopes, repo=self.touch_repo, flows=self.flows, clock=self.clock)

    async def _notify(self, envelopes: Sequence[Envelope]) -> BatchResult:
        return await notify.handle_batch(envelopes, repo=self.notify_repo, deps=self.notify_deps)

    # --- driving it --------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    async def send(self, calls: Sequence[Mapping[str, Any]]) -> ingest.Accepted:
        """POST /v1/batch with these Segment calls, received now: parsed, resolved and published
        (or parked until their user is grouped) as ingest does. Invalid calls fail the story."""
        parsed = parse_batch({"batch": list(calls)}, received_at=self.now, policy=TimePolicy(), limits=Limits())
        assert not parsed.rejected, [r.as_json() for r in parsed.rejected]
        return await ingest.accept(parsed.calls, source=WRITE_KEY_SOURCE, ports=self.ingest_ports, now=self.now)

    async def open_mail(self, mail: EmailMessage) -> None:
        """The recipient opens a mail now (its tracking pixel loads), as notify's tracking route
        records it; the outcome travels on at once (drained)."""
        row = self.notify_repo.deliveries[str(mail["X-Touchline-Delivery"])]
        machine_within = NotifySettings.model_fields["machine_open_seconds"].default
        await engagement.record_open(self.notify_repo, row, now=self.now, human=False, machine_within=machine_within)
        await self.drain()

    async def advance(self, to: datetime, *, step: timedelta | None = None) -> None:
        """Move the clock to ``to`` (by ``step`` at a time, draining after each), firing what the
        services' clock-driven loops would: touch's due timers, health's decay sweep, notify's
        expiry of commands parked for a recipient."""
        assert to >= self.now, "the simulated clock only moves forward"
        while True:
            at = min(to, self.now + step) if step else to
            self.clock.set(at)
            await self.tick()
            await self.drain()
            if at >= to:
                return

    async def tick(self) -> None:
        """What the clock-driven loops do when the clock moves to ``now``."""
        now = self.now
        while True:
            count, outgoing = await health.sweep_decay(repo=self.health_repo, ctx=self.health_ctx, now=now, limit=100)
            await self.publishers["health"].publish(topics.HEALTH, [m for _, m in outgoing])
            if count < 100:
                break
        due = await self.touch_repo.due_accounts(until=now, limit=10_000)
        for account_id in due:  # the claim (the loop takes them in one batch, as here)
            await self.touch_repo.lock_account(account_id)
        fired = await self.flows.fire_due_many(self.touch_repo, due, until=now)
        assert not fired.failed, fired.failed  # the loop logs and sets these aside; a story must not
        await self.publishers["touch"].publish(topics.COMMANDS, fired.commands)
        await notify.expire_parked(self.notify_repo, self.notify_deps)

    async def drain(self) -> None:
        """Deliver every record to its consumers, send the mail notify recorded and relay its
        outcomes, until nothing moves."""
        for _ in range(QUIET_AFTER):
            moved = 0
            for consumer in self.consumers:
                moved += await consumer.poll(self.bus)
            moved += await self.deliver_mail()
            moved += await self.relay_outcomes()
            if not moved:
                return
        raise RuntimeError(f"the pipeline did not settle in {QUIET_AFTER} rounds")

    async def deliver_mail(self) -> int:
        """notify's mail loop: each pending delivery composed and sent, its fate staged as an outcome."""
        pending = [row for row in self.notify_repo.deliveries.values() if row["state"] == "pending"]
        silenced = await self.notify_repo.unsubscribed([r["email"] for r in pending if not r.get("internal")])
        now = self.now
        for row in pending:
            if row["email"].lower() in silenced and not row.get("internal"):
                row["state"] = "suppressed"
                staged = outcome_for(row, kind="email.failed", occurrence="suppressed", now=now, detail="suppressed")
            else:
                await self.smtp.send(mail_for(row, mail_from=MAIL_FROM, now=now))
                row.update(state="sent", sent_at=now)
                staged = outcome_for(row, kind="email.sent", occurrence="sent", now=now, detail=row["message_id"])
            await self.notify_repo.add_outcomes([staged])
        return len(pending)

    async def relay_outcomes(self) -> int:
        """notify's outbox relay: staged outcomes published once, in the order staged."""
        fresh = [o for i, o in self.notify_repo.outbox.items() if i not in self.relayed]
        self.relayed.update(o.outcome_id for o in fresh)
        await self.publishers["notify"].publish(topics.OUTCOMES, fresh)
        return len(fresh)

    # --- what happened ------------------------------------------------------------------------------

    def mails(self, to: str | None = None) -> list[EmailMessage]:
        """What the fake SMTP server received (to one address, if given), in order."""
        return [m for m in self.smtp.sent if to is None or to in str(m["To"])]

    def commands(self, account_id: str | None = None) -> list[Command]:
        return [
            e.message  # type: ignore[misc]
            for e in self.bus.messages(topics.COMMANDS)
            if account_id is None or e.message.account_id == account_id  # type: ignore[attr-defined]
        ]

    def score(self, account_id: str) -> tuple[float | None, str | None]:
        """(score, band) health last stored for the account ((None, None) before its first score)."""
        stored = [s.rescored.result for s in self.health_repo.history if s.record.state.account_id == account_id]
        return (stored[-1].score, stored[-1].band) if stored else (None, None)

    def enrolments(self, account_id: str) -> list[Enrolment]:
        found = [e for e in self.touch_repo.enrolments.values() if e.account_id == account_id]
        return sorted(found, key=lambda e: (e.enrolled_at, e.id))

    def tasks(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """CSM tasks notify opened, oldest first."""
        found = [t for t in self.notify_repo.tasks.values() if account_id is None or t["account_id"] == account_id]
        return sorted(found, key=lambda t: (t["created_at"], t["id"]))

    def replay(self, group: str) -> None:
        """Rewind a consumer group to the start of its topics: every record is delivered again, as
        after offsets that were lost (the services drop what they processed before)."""
        next(c for c in self.consumers if c.group == group).position = 0

    def fates(self, group: str) -> Counter[tuple[Fate, str]]:
        """(fate, reason) -> records, for one consumer group (as the runner counts them)."""
        return next(c.fates for c in self.consumers if c.group == group)
