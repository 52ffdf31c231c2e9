"""Consumed messages -> inputs per account -> flows; one table maps message types to their reader."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from touchline.shared import topics
from touchline.shared.clock import Clock
from touchline.shared.cloudevents import Envelope
from touchline.shared.db import dedup_key
from touchline.shared.fates import DUPLICATE, UNKNOWN_TYPE, BatchResult
from touchline.shared.messages import HealthScored, Message, Outcome, ProductEvent

from .domain.signals import Input, SignalThresholds, from_event, from_health, from_outcome
from .flows import Flows
from .ports import Repository

Reader = Callable[[Message], list[Input]]


def readers(thresholds: SignalThresholds) -> dict[type[Message], Reader]:
    """The handler table: which function reads which message type."""
    return {
        ProductEvent: from_event,  # type: ignore[dict-item]
        HealthScored: partial(from_health, thresholds=thresholds),  # type: ignore[dict-item]
        Outcome: from_outcome,  # type: ignore[dict-item]
    }


def inputs_by_account(envelopes: Sequence[Envelope], table: dict[type[Message], Reader]) -> dict[str, list[Input]]:
    """The inputs the envelopes (all of a type in ``table``) give, by account."""
    grouped: dict[str, list[Input]] = {}
    for env in envelopes:
        items = table[type(env.message)](env.message)
        if items:
            grouped.setdefault(env.message.key(), []).extend(items)
    return grouped


def first_copies(envelopes: Sequence[Envelope], fresh: set[str], result: BatchResult) -> list[Envelope]:
    """The envelopes never processed before, each once even if the batch holds it twice; the
    other copies are skipped as duplicates."""
    kept, seen = [], set()
    for env in envelopes:
        key = dedup_key(env)
        if key in fresh and key not in seen:
            seen.add(key)
            kept.append(env)
        else:
            result.skip(env, DUPLICATE)
    return kept


async def handle_batch(envelopes: Sequence[Envelope], *, repo: Repository, flows: Flows, clock: Clock) -> BatchResult:
    """One consumer batch, in ``repo``'s transaction (the runner's): accounts in a fixed order
    (no lock cycles)."""
    table = readers(flows.config.thresholds)
    now = clock.now()
    result = BatchResult()
    ours = []
    for env in envelopes:
        if type(env.message) in table:
            ours.append(env)
        else:  # another type on a shared topic (e.g. a newer version): not ours to read
            result.skip(env, UNKNOWN_TYPE)
    # Producers republish with the same ids after a crash (publish-before-commit, outboxes, SDK
    # retries): a repeated signal must not move a run through two steps that wait for it.
    fresh = await repo.first_seen([dedup_key(e) for e in ours], now=now)
    for account_id, items in sorted(inputs_by_account(first_copies(ours, fresh, result), table).items()):
        for command in await flows.apply(repo, account_id, items, now=now):
            result.emit(topics.COMMANDS, command)
    return result
