"""The service layer: lock one account, load its snapshot, decide, write the change set, return the commands.

Every function here runs inside the caller's transaction with the account locked, so the
consumer, the timer loop and the API never advance the same account at the same time. The
decisions (decisions.py) read nothing from storage: what they need is in the snapshot, and what
they decide is written in one place, ``Repository.apply_changes``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from touchline.shared import metrics
from touchline.shared.messages import Command

from .decisions import Decisions, TouchConfig, status_change
from .domain.changes import Account, ChangeSet
from .domain.engine import Enrolment
from .domain.signals import Input
from .ports import Repository

__all__ = ["Fired", "Flows", "TouchConfig"]

log = logging.getLogger(__name__)


@dataclass
class Fired:
    """What firing a batch of accounts' due timers gave: the commands, and the accounts whose
    decisions failed (nothing of theirs written: their timers are still due)."""

    commands: list[Command] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)


class Flows:
    def __init__(self, config: TouchConfig) -> None:
        self.config = config
        self.decisions = Decisions(config)
        # Told the account when a call leaves one of its timers already due (the timer loop's
        # in-process wake-up); called before the caller's transaction commits.
        self.on_due: Callable[[str], None] | None = None

    async def load(self, repo: Repository, account_id: str, *, sends_from: datetime) -> Account:
        """The locked account as the decisions see it; the message cap looks back from ``sends_from``
        (or from an earlier due timer, which fires as of its own time)."""
        cap = self.config.cap
        snapshot = await repo.load_account(account_id, sends_from=sends_from, cap_window=cap.per if cap else None)
        return Account(snapshot)

    async def write(self, repo: Repository, changes: ChangeSet) -> list[Command]:
        return await self.write_many(repo, [changes])

    async def write_many(self, repo: Repository, change_sets: Sequence[ChangeSet]) -> list[Command]:
        for changes in change_sets:
            for due_at, fired_at in changes.fired:
                metrics.timer_fired(due_at=due_at, fired_at=fired_at)
        await repo.apply_change_sets(change_sets)
        return [command for changes in change_sets for command in changes.commands]

    # --- inputs from the topics ---------------------------------------------------------------

    async def apply(
        self, repo: Repository, account_id: str, inputs: Sequence[Input], *, now: datetime
    ) -> list[Command]:
        """Apply inputs in time order; timers due before each input fire first, as of their own time."""
        await repo.lock_account(account_id)
        account = await self.load(repo, account_id, sends_from=min([now, *(i.at for i in inputs)]))
        self.decisions.apply(account, inputs, now=now)
        commands = await self.write(repo, account.changes())
        due = account.earliest_due()
        if self.on_due is not None and due is not None and due <= now:
            self.on_due(account_id)
        return commands

    # --- timers -------------------------------------------------------------------------------

    async def fire_due(self, repo: Repository, account_id: str, *, until: datetime) -> list[Command]:
        """Fire this account's timers due by ``until`` (the caller holds its lock), earliest first,
        each as of its own due time."""
        account = await self.load(repo, account_id, sends_from=until)
        self.decisions.fire_due(account, until=until)
        return await self.write(repo, account.changes())

    async def fire_due_many(self, repo: Repository, account_ids: Sequence[str], *, until: datetime) -> Fired:
        """``fire_due`` for several locked accounts at once: one read and one write for all of
        them, the same decisions for each. An account whose decisions raise is left out (nothing of
        it written, its timers still due) and reported, so it cannot hold the others back."""
        cap = self.config.cap
        snapshots = await repo.load_accounts(account_ids, sends_from=until, cap_window=cap.per if cap else None)
        fired = Fired()
        decided = []
        for account_id in account_ids:
            account = Account(snapshots[account_id])
            try:
                self.decisions.fire_due(account, until=until)
            except Exception as exc:  # a bug in one account's run: the others still fire
                log.exception("firing an account's timers failed", extra={"account": account_id})
                fired.failed[account_id] = exc
                continue
            decided.append(account.changes())
        fired.commands = await self.write_many(repo, decided)
        return fired

    # --- CSM actions --------------------------------------------------------------------------

    async def set_status(self, repo: Repository, e: Enrolment, action: str, *, now: datetime, by: str) -> Enrolment:
        """pause / resume / cancel by a CSM; raises ValueError when the enrolment's status forbids it."""
        new, changes = status_change(e, action, now=now, by=by)
        await repo.apply_changes(changes)
        return new
