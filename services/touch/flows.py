"""The service layer: lock one account, load its snapshot, decide, write the change set, return the commands.

Every function here runs inside the caller's transaction with the account locked, so the
consumer, the timer loop and the API never advance the same account at the same time. The
decisions (decisions.py) read nothing from storage: what they need is in the snapshot, and what
they decide is written in one place, ``Repository.apply_changes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from touchline.shared import metrics
from touchline.shared.messages import Command

from .decisions import Decisions, TouchConfig, status_change
from .domain.changes import Account, ChangeSet
from .domain.engine import Enrolment
from .domain.signals import Input
from .ports import Repository

__all__ = ["Flows", "TouchConfig"]


class Flows:
    def __init__(self, config: TouchConfig) -> None:
        self.config = config
        self.decisions = Decisions(config)

    async def load(self, repo: Repository, account_id: str, *, sends_from: datetime) -> Account:
        """The locked account as the decisions see it; the message cap looks back from ``sends_from``
        (or from an earlier due timer, which fires as of its own time)."""
        cap = self.config.cap
        snapshot = await repo.load_account(account_id, sends_from=sends_from, cap_window=cap.per if cap else None)
        return Account(snapshot)

    async def write(self, repo: Repository, changes: ChangeSet) -> list[Command]:
        for due_at, fired_at in changes.fired:
            metrics.timer_fired(due_at=due_at, fired_at=fired_at)
        await repo.apply_changes(changes)
        return list(changes.commands)

    # --- inputs from the topics ---------------------------------------------------------------

    async def apply(
        self, repo: Repository, account_id: str, inputs: Sequence[Input], *, now: datetime
    ) -> list[Command]:
        """Apply inputs in time order; timers due before each input fire first, as of their own time."""
        await repo.lock_account(account_id)
        account = await self.load(repo, account_id, sends_from=min([now, *(i.at for i in inputs)]))
        self.decisions.apply(account, inputs, now=now)
        return await self.write(repo, account.changes())

    # --- timers -------------------------------------------------------------------------------

    async def fire_due(self, repo: Repository, account_id: str, *, until: datetime) -> list[Command]:
        """Fire this account's timers due by ``until`` (the caller holds its lock), earliest first,
        each as of its own due time."""
        account = await self.load(repo, account_id, sends_from=until)
        self.decisions.fire_due(account, until=until)
        return await self.write(repo, account.changes())

    # --- CSM actions --------------------------------------------------------------------------

    async def set_status(self, repo: Repository, e: Enrolment, action: str, *, now: datetime, by: str) -> Enrolment:
        """pause / resume / cancel by a CSM; raises ValueError when the enrolment's status forbids it."""
        new, changes = status_change(e, action, now=now, by=by)
        await repo.apply_changes(changes)
        return new
