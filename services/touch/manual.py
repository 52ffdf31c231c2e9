"""Enrol an account by hand (the API's CSM action), idempotently when the client sends a key.

Runs inside the caller's transaction; the caller publishes the commands *before* committing, like
the consumer and the timer loop. If the commit then fails, the client's retry with the same key
recreates the same enrolment id and so the same command ids, and notify drops the copies; a retry
after a commit that did succeed finds the key and gets the stored enrolment, nothing published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from touchline.shared.messages import Command

from .domain.engine import Enrolment
from .domain.manual import HEADER, KeyRecord, KeyReused, ManualRequest, check_replay, manual_cause
from .domain.playbook import Playbook
from .domain.triggers import enrolment_id
from .flows import Flows
from .ports import Repository


class UnknownAccount(LookupError):
    pass


class NotEnrolled(ValueError):
    """The account may not be enrolled now (e.g. a run of the playbook is open); says why."""


@dataclass(frozen=True)
class Manual:
    enrolment: Enrolment
    commands: list[Command]
    replayed: bool  # the key was seen before: the enrolment it created, nothing to publish


async def enrol_by_hand(
    flows: Flows,
    repo: Repository,
    playbook: Playbook,
    *,
    request: ManualRequest,
    key: str | None,
    now: datetime,
    nonce: str,
) -> Manual:
    """Raises UnknownAccount, NotEnrolled or KeyReused; the caller rolls back on any of them."""
    # The account lock first, as everywhere: two copies of one request are serialised here, so
    # the second one finds the key the first stored.
    await repo.lock_account(request.account_id)
    if key is not None:
        stored = await repo.get_key(key)
        if stored is not None:
            check_replay(stored, request)
            return await _replay(repo, stored)
    account = await flows.load(repo, request.account_id, sends_from=now)
    profile = account.profile
    if profile is None:
        raise UnknownAccount(f"account {request.account_id!r}: unknown to touch (no event seen for it)")
    decisions = flows.decisions
    assignment = decisions.retier(account, profile, at=now)
    cause = manual_cause(by=request.by, key=key, nonce=nonce)
    verdict = decisions.enrol(account, profile, assignment, playbook, at=now, cause=cause, manual=True)
    if not verdict.ok:
        raise NotEnrolled(f"not enrolled: {verdict.reason}")
    commands = await flows.write(repo, account.changes())
    eid = enrolment_id(request.account_id, playbook.name, cause)
    if key is not None:
        # Only a success stores the key: a refused request (409) may be retried with it later.
        earlier = await repo.save_key(KeyRecord(key, request, eid, now))
        if earlier is not None:  # the same key, sent for another account at the same moment, won
            check_replay(earlier, request)
            raise KeyReused(f"{HEADER}: {key!r} was stored by a concurrent request; retry with the same key")
    created = account.enrolment(eid)
    assert created is not None
    return Manual(created, commands, replayed=False)


async def _replay(repo: Repository, stored: KeyRecord) -> Manual:
    found = await repo.get_enrolment(stored.enrolment_id)
    if found is None:  # keys and enrolments are written in one transaction and never deleted
        raise RuntimeError(f"{HEADER} {stored.key!r}: its enrolment {stored.enrolment_id} is gone")
    return Manual(found, [], replayed=True)
