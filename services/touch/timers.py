"""The durable timer loop: waits live in Postgres and fire by the shared clock.

Wakes when the clock moves (or every poll interval), then repeatedly takes the accounts with
the earliest due timers that no other replica holds, fires each taken account's due timers in
order, each as of its own due time, publishes the commands and commits: a few accounts per
unit of work (shared/unit_of_work.py).

"Holds" is a per-account transaction-scoped advisory lock: the timer loop only *tries* it
(``pg_try_advisory_xact_lock``, the account-level equivalent of ``SKIP LOCKED``) and moves on
when another replica, the consumer or the API has the account. Row locks on the timer table
itself are not used: holding other accounts' timer rows while waiting for one's own is how
two replicas deadlock. Everyone takes the account lock before touching its rows, and only
the timer loop never waits for one, so no cycle can form. A crash between
publish and commit fires the same timers again with the same command ids; notify drops copies.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.shared import metrics, topics
from touchline.shared.clock import Clock, SimulatedClock
from touchline.shared.consumer import is_transient
from touchline.shared.messages import Command
from touchline.shared.runtime import Runtime
from touchline.shared.unit_of_work import Publisher, unit_of_work

from .adapters.postgres import PgRepository
from .flows import Flows

log = logging.getLogger(__name__)


@dataclass
class TimerLoop:
    engine: AsyncEngine
    flows: Flows
    clock: Clock
    publisher: Publisher
    poll_seconds: float = 1.0
    claim: int = 50
    accounts_per_transaction: int = 20  # amortises the commit; short enough not to hold the consumer up
    fired_accounts: int = 0
    _rng: random.Random = field(default_factory=random.Random)
    _report_backlog: bool = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.clock.changed(timeout=self.poll_seconds)
            if isinstance(self.clock, SimulatedClock) and not self.clock.known:
                continue  # before the first clock message, "now" would be the wall clock
            try:
                self._report_backlog = True
                while not stop.is_set() and await self.fire_once():
                    pass
            except Exception as exc:
                if not is_transient(exc):
                    raise  # a bug: let the process stop and its supervisor restart it
                # The database or broker is away: nothing was committed, the timers are still due.
                log.warning("timer round failed, retrying", extra={"error": repr(exc)})
                await asyncio.sleep(self.poll_seconds)

    async def fire_once(self) -> bool:
        """Fire the due timers of a few accounts in one transaction; False when nothing due could be taken."""
        now = self.clock.now()
        fired = 0
        async with unit_of_work(self.engine, self.publisher) as uow:
            repo = PgRepository(uow.conn)
            if self._report_backlog:  # once per round, before it fires what is due
                due, oldest = await repo.due_backlog(until=now)
                metrics.timer_backlog(due=due, oldest_due=oldest, now=now)
                self._report_backlog = False
            commands: list[Command] = []
            candidates = await repo.due_accounts(until=now, limit=self.claim)
            # Replicas see the same earliest candidates; starting at different ones keeps them from
            # queueing behind each other's try-locks. Order only matters within an account.
            self._rng.shuffle(candidates)
            for account_id in candidates:
                if not await repo.try_lock_account(account_id):
                    continue  # the consumer or an API call is on this account; next round
                commands += await self.flows.fire_due(repo, account_id, until=now)
                fired += 1
                if fired >= self.accounts_per_transaction:
                    break
            uow.emit(topics.COMMANDS, commands)
        self.fired_accounts += fired
        return fired > 0


async def timers_due(runtime: Runtime) -> dict[str, int]:
    """Timers due by the service clock and not fired yet (GET /pending): right after a clock
    move, or a batch that set a timer already due, until the loop has fired them."""
    if isinstance(runtime.clock, SimulatedClock) and not runtime.clock.known:
        return {"timers_due": 0}  # the loop does not fire before the first clock message either
    async with runtime.engine.connect() as conn:
        due, _ = await PgRepository(conn).due_backlog(until=runtime.clock.now())
    return {"timers_due": due}
