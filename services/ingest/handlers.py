"""Accepting calls: resolve accounts, park or publish, release what a group call unblocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .domain import Call
from .identity import identity_keys, plan_routes
from .metrics import PARKED, RELEASED
from .ports import EventPublisher, Identities
from .semantics import EventDoc, event_document


@dataclass(frozen=True)
class Ports:
    identities: Identities
    publisher: EventPublisher


@dataclass(frozen=True)
class Accepted:
    published: int
    parked: int
    released: int


async def accept(calls: list[Call], *, source: str, ports: Ports, now: datetime) -> Accepted:
    """Make every call durable: on Kafka (keyed by account) or parked in Postgres.

    Raises BrokerUnavailable when Kafka did not acknowledge; the client then retries with the
    same messageIds, and whatever did get through is deduplicated downstream.
    """
    if not calls:
        return Accepted(0, 0, 0)
    keys = sorted({k for call in calls for k in identity_keys(call)})
    plan = plan_routes(calls, known=await ports.identities.accounts(keys))
    events = [event_document(r.call, account_id=r.account_id, source=source) for r in plan.publish]
    parked = 0
    if plan.park or plan.links:
        waiting = [(p, event_document(p.call, account_id="", source=source)) for p in plan.park]
        late = await ports.identities.park_and_link(parked=waiting, links=plan.links, source=source, now=now)
        for p, event in waiting:
            account = next((late[k] for k in p.keys if k in late), None)
            if account is None:
                parked += 1
            else:
                events.append({**event, "account_id": account})
    released: list[EventDoc] = []
    if plan.release:
        stored = await ports.identities.parked_for(sorted(plan.release))
        released = [{**s.event, "account_id": account} for s, account in stored]
    # Parked events happened before this request's: they go first, in their arrival order.
    await ports.publisher.publish(released + events)
    if released:
        # Only after Kafka acknowledged: a crash here replays them, it never loses them.
        await ports.identities.forget([e["message_id"] for e in released])
    PARKED.inc(parked)
    RELEASED.inc(len(released))
    return Accepted(published=len(events), parked=parked, released=len(released))


async def release_stranded(*, ports: Ports, batch: int = 1000) -> int:
    """Publish parked events whose user is linked already (a crash between link and release)."""
    total = 0
    while True:
        stored = await ports.identities.stranded(batch)
        if not stored:
            return total
        await ports.publisher.publish([{**s.event, "account_id": a} for s, a in stored])
        await ports.identities.forget([s.message_id for s, _ in stored])
        RELEASED.inc(len(stored))
        total += len(stored)
