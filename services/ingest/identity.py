"""Which account an event belongs to, and what to park until its user is grouped. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .domain import Call


def user_key(*, user_id: str | None = None, anonymous_id: str | None = None) -> str:
    """The map key of an identity; user and anonymous ids live in separate namespaces."""
    return f"u:{user_id}" if user_id is not None else f"a:{anonymous_id}"


def identity_keys(call: Call) -> list[str]:
    """Every identity a call speaks for, most specific first."""
    keys = []
    if call.user_id is not None:
        keys.append(user_key(user_id=call.user_id))
    if call.anonymous_id is not None:
        keys.append(user_key(anonymous_id=call.anonymous_id))
    if call.kind == "alias" and call.previous_id is not None:
        keys.append(user_key(user_id=call.previous_id))
    return keys


def context_account(call: Call) -> str | None:
    value = call.context.get("groupId")
    return str(value) if value not in (None, "") and not isinstance(value, dict | list) else None


@dataclass(slots=True)  # not frozen: built for every event, and frozen __init__ is 3x slower
class Routed:
    call: Call
    account_id: str


@dataclass(frozen=True)
class Parked:
    call: Call
    keys: tuple[str, ...]


@dataclass
class Plan:
    """Decisions for one request, in call order."""

    publish: list[Routed] = field(default_factory=list)
    park: list[Parked] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # identity key -> account learnt here
    release: set[str] = field(default_factory=set)  # keys whose stored parked events may now go out


def plan_routes(calls: Iterable[Call], *, known: Mapping[str, str]) -> Plan:
    """Route each call to an account, or park it.

    Account of a group call: its groupId (and its user/anonymous ids are linked to it). Any other
    call: context.groupId, else the account of the first of its ids already linked. A call that
    resolves through one id links its other ids too (the anonymous visitor who logged in). Calls
    parked earlier in the same request whose ids get linked later in it are routed in place.
    """
    plan = Plan()
    accounts = dict(known)
    pending: list[Parked] = []
    # Plain loops, no generator expressions: this runs for every event of every request.
    for call in calls:
        keys = identity_keys(call)
        grouping = call.kind == "group"
        by_context = None if grouping else context_account(call)
        account = call.group_id if grouping else by_context
        if account is None:
            for key in keys:
                account = accounts.get(key)
                if account is not None:
                    break
        if account is None:
            pending.append(Parked(call=call, keys=tuple(keys)))
            continue
        plan.publish.append(Routed(call=call, account_id=account))
        if grouping:
            # Even an unchanged link releases: a retried group call must finish a release that
            # failed after the link was stored (Kafka down at the time).
            plan.release.update(keys)
        elif by_context is not None:
            continue  # routed by context.groupId: teaches nothing (a user may act in several accounts)
        for key in keys:
            # A group call links all its ids; any other call links the ids not linked yet.
            if accounts.get(key) != account and (grouping or key not in accounts):
                accounts[key] = account
                plan.links[key] = account
                plan.release.add(key)
    rerouted = False
    for parked in pending:
        account = next((accounts[k] for k in parked.keys if k in accounts), None)
        if account is None:
            plan.park.append(parked)
        else:
            plan.publish.append(Routed(call=parked.call, account_id=account))
            rerouted = True
    if rerouted:
        plan.publish.sort(key=lambda routed: routed.call.index)
    return plan
