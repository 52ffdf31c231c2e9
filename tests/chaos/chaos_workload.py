"""The chaos suite's workload, its faults and what it compares.

The workload is the simulator's deterministic plan (same seed, same accounts, same events) sent
day by day through ingest, without the simulated people's reactions (those depend on when a
mail is read, which is not what this suite measures). Each day: the clock moves, the day's
events are sent, then the day settles -- every consumer group drained and every mail sent --
before the next one, so a clean run and a run with faults see the same inputs in the same order.
A fault starts right after its day's events were sent, while the pipeline is busy with them.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from chaos_stack import ChaosStack

from touchline.shared import topics
from touchline.shared.settings import CommonSettings
from touchline.sim.barrier import Barrier
from touchline.sim.client import StackClient
from touchline.sim.personas import make_accounts
from touchline.sim.plan import DEFAULT_START, Config, batches, events_of_day, to_segment

MORNING = timedelta(hours=9)
Fault = Callable[[ChaosStack], Awaitable[None]]


@dataclass(frozen=True)
class Leg:
    name: str
    day: int
    fault: Fault


@dataclass
class Snapshot:
    """What the read APIs and the sink say at the end of a run."""

    events_sent: int = 0
    scores: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # Each account's measures as health explains them (the aggregates of its events).
    measures: dict[str, str] = field(default_factory=dict)
    dead_lettered: int = 0
    enrolments: Counter[tuple[str, ...]] = field(default_factory=Counter)
    tasks: Counter[tuple[str, ...]] = field(default_factory=Counter)
    mails: Counter[tuple[str, ...]] = field(default_factory=Counter)
    mails_under_one_id: int = 0  # distinct Message-IDs among the stored mails
    sink_duplicates: int = 0  # copies the sink dropped on a Message-ID it already had
    unscored: int = 0


def config_for(*, accounts: int, days: int, seed: int = 11) -> Config:
    return Config(seed=seed, accounts=accounts, days=days, start=DEFAULT_START, id_prefix="chaos")


async def replay(
    stack: ChaosStack, common: CommonSettings, config: Config, legs: Sequence[Leg] = (), *, log: Callable[[str], None]
) -> Snapshot:
    accounts = make_accounts(seed=config.seed, count=config.accounts, start=config.start, id_prefix=config.id_prefix)
    snapshot = Snapshot()
    async with StackClient(stack.endpoints) as client:
        await client.wait_ready()
        barrier = Barrier(common, client, quiet_s=0.5)
        await barrier.start()
        try:
            for day in range(config.days):
                morning = config.day_start(day) + MORNING
                await barrier.set_clock(morning, timeout=120)
                events = events_of_day(accounts, config=config, day=day)
                await _send(client, [to_segment(e, sent_at=morning) for e in events])
                snapshot.events_sent += len(events)
                faults = [asyncio.create_task(_timed(leg, stack, log)) for leg in legs if leg.day == day]
                await _settle(stack, barrier, faults)
        finally:
            await barrier.stop()
        await _observe(client, stack, [a.account_id for a in accounts], snapshot)
    return snapshot


async def _timed(leg: Leg, stack: ChaosStack, log: Callable[[str], None]) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    await leg.fault(stack)
    log(f"leg {leg.name} (day {leg.day}): {loop.time() - began:.1f}s")


async def _send(client: StackClient, calls: list[dict[str, Any]]) -> None:
    # Introductions first (users must be grouped before their usage counts), then the usage.
    for part in (c for c in calls if c["type"] != "track"), (c for c in calls if c["type"] == "track"):
        for batch in batches(list(part)):
            await client.send_batch(batch)


async def _settle(stack: ChaosStack, barrier: Barrier, faults: list[asyncio.Task[None]]) -> None:
    """The day's faults over, every group drained and every mail sent -- twice in a row, since
    a sent mail's outcome is new input for touch and health."""
    if faults:
        await asyncio.gather(*faults)
    calm = 0
    while calm < 2:
        try:
            await barrier.drain(stall_s=120)
        except KafkaError:  # the broker restarting (e.g. its group coordinator loading): ask again
            calm = 0
            await asyncio.sleep(0.5)
            continue
        if await stack.mail_settled():
            calm += 1
        else:
            calm = 0
            await asyncio.sleep(0.3)


async def _observe(client: StackClient, stack: ChaosStack, account_ids: list[str], snapshot: Snapshot) -> None:
    for account_id in account_ids:
        try:
            health = await client.get_json("health", f"/v1/accounts/{account_id}")
            snapshot.scores[account_id] = (health.get("score"), health.get("band"))
            snapshot.measures[account_id] = json.dumps(health.get("measures"), sort_keys=True, default=str)
        except Exception:
            snapshot.unscored += 1
        for enrolment in await client.get_json("touch", f"/v1/accounts/{account_id}/enrolments"):
            snapshot.enrolments[(account_id, str(enrolment.get("playbook")), str(enrolment.get("state")))] += 1
        body = await client.get_json("notify", "/v1/tasks", account_id=account_id, limit=1000)
        for task in body["tasks"]:
            key = (account_id, str(task.get("type")), str(task.get("reason")), str(task.get("status")))
            snapshot.tasks[key] += 1
    stored = stack.mails()
    for mail in stored:
        template = str(mail.get("X-Touchline-Template") or "")
        snapshot.mails[(str(mail["To"]), template, str(mail["Subject"]))] += 1
    snapshot.mails_under_one_id = len({str(m["Message-ID"]) for m in stored})
    snapshot.sink_duplicates = stack.duplicates()
    snapshot.dead_lettered = await _dead_lettered(stack)


async def _dead_lettered(stack: ChaosStack) -> int:
    """Records in the run's dead-letter topics: a valid event there was never applied."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        names = [topics.dlq_name(topics.name(t, stack.topic_prefix)) for t in topics.ALL]
        ends = await consumer.end_offsets([TopicPartition(n, 0) for n in names])
        return sum(ends.values())
    finally:
        await consumer.stop()


def differences(clean: Snapshot, chaos: Snapshot) -> dict[str, int]:
    """Every way the run with faults differs from the clean one (all zero = nothing lost)."""
    return {
        "events not sent": clean.events_sent - chaos.events_sent,
        "accounts unscored": chaos.unscored - clean.unscored,
        "scores differing": sum(1 for a, s in clean.scores.items() if chaos.scores.get(a) != s),
        "health measures differing (events lost or doubled)": sum(
            1 for a, m in clean.measures.items() if chaos.measures.get(a) != m
        ),
        "records dead-lettered": chaos.dead_lettered - clean.dead_lettered,
        "enrolments missing": sum((clean.enrolments - chaos.enrolments).values()),
        "enrolments extra": sum((chaos.enrolments - clean.enrolments).values()),
        "tasks missing": sum((clean.tasks - chaos.tasks).values()),
        "tasks duplicated": sum((chaos.tasks - clean.tasks).values()),
        "mails lost": sum((clean.mails - chaos.mails).values()),
        "mails duplicated": sum((chaos.mails - clean.mails).values()),
        # Two stored mails with one Message-ID would mean the sink failed to deduplicate.
        "mails stored twice under one Message-ID": sum(chaos.mails.values()) - chaos.mails_under_one_id,
    }


def at(day: int, when: datetime) -> datetime:
    return when + timedelta(days=day)
