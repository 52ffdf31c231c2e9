"""The durable timer loop: waits live in Postgres and fire by the shared clock.

Wakes when the clock moves, when a consumer batch or an API call leaves a timer already due
(``nudge``, in process), or every poll interval; then repeatedly claims a batch of the accounts
with the earliest due timers that no other replica holds, fires each claimed account's due
timers in order, each as of its own due time, publishes the commands and commits: one unit of
work per batch (shared/unit_of_work.py), so one snapshot read per table, one statement per kind
of row written and one Kafka publish for the whole batch.

"Holds" is a per-account transaction-scoped advisory lock: the claim only *tries* it
(``pg_try_advisory_xact_lock``, the account-level equivalent of ``SKIP LOCKED``) and skips an
account another replica, the consumer or the API has. Row locks on the timer table itself are
not used: holding other accounts' timer rows while waiting for one's own is how two replicas
deadlock. Everyone takes the account lock before touching its rows, and the timer loop never
waits for one while it holds another, so no cycle can form. A crash between publish and
commit fires the same timers again with the same command ids (every id is derived from the
run, the step and the visit); notify drops the copies.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.shared import metrics, topics
from touchline.shared.clock import Clock, SimulatedClock
from touchline.shared.consumer import is_transient
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
    # Accounts per unit of work: amortises the reads, the writes, the publish and the commit;
    # short enough (tens of milliseconds) not to hold a consumer batch waiting on one of them.
    batch: int = 100
    fired_accounts: int = 0
    _report_backlog: bool = False
    _set_aside: set[str] = field(default_factory=set)  # failed this round: tried again next round
    _nudged: asyncio.Event = field(default_factory=asyncio.Event)
    _nudged_account: str | None = None

    def nudge(self, account_id: str) -> None:
        """A transaction (a consumer batch, an API call) left this account with a timer already
        due: fire it once that transaction has ended rather than at the next poll."""
        self._nudged_account = account_id
        self._nudged.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._wait()
            if isinstance(self.clock, SimulatedClock) and not self.clock.known:
                continue  # before the first clock message, "now" would be the wall clock
            try:
                await self._after_nudging_transaction()
                self._report_backlog = True
                self._set_aside.clear()
                while not stop.is_set() and await self.fire_once():
                    pass
            except Exception as exc:
                if not is_transient(exc):
                    raise  # a bug: let the process stop and its supervisor restart it
                # The database or broker is away: nothing was committed, the timers are still due.
                log.warning("timer round failed, retrying", extra={"error": repr(exc)})
                await asyncio.sleep(self.poll_seconds)

    async def _wait(self) -> None:
        """Until the clock moves, a nudge, or the poll interval."""
        if self._nudged.is_set():
            return
        moved = asyncio.ensure_future(self.clock.changed(timeout=self.poll_seconds))
        nudged = asyncio.ensure_future(self._nudged.wait())
        try:
            await asyncio.wait({moved, nudged}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (moved, nudged):
                task.cancel()

    async def _after_nudging_transaction(self) -> None:
        """The nudge comes before the nudging transaction commits and still holds the account:
        wait for its lock (holding nothing else, so no cycle), then fire what it committed."""
        account, self._nudged_account = self._nudged_account, None
        self._nudged.clear()
        if account is not None:
            async with self.engine.begin() as conn:
                await PgRepository(conn).lock_account(account)

    async def fire_once(self) -> bool:
        """Fire the due timers of a batch of accounts in one unit of work; False when nothing due
        could be claimed."""
        now = self.clock.now()
        async with unit_of_work(self.engine, self.publisher) as uow:
            repo = PgRepository(uow.conn)
            if self._report_backlog:  # once per round, before it fires what is due
                due, oldest = await repo.due_backlog(until=now)
                metrics.timer_backlog(due=due, oldest_due=oldest, now=now)
                self._report_backlog = False
            claimed = await repo.claim_due_accounts(until=now, limit=self.batch, skip=self._set_aside)
            fired = await self.flows.fire_due_many(repo, claimed, until=now)
            # Left out of this round (their timers stay due and are claimed again next round): the
            # others are not held back by them, and the loop does not spin on them.
            self._set_aside |= set(fired.failed)
            uow.emit(topics.COMMANDS, fired.commands)
        self.fired_accounts += len(claimed) - len(fired.failed)
        return bool(claimed)


async def timers_due(runtime: Runtime) -> dict[str, int]:
    """Timers due by the service clock and not fired yet (GET /pending): right after a clock
    move, or a batch that set a timer already due, until the loop has fired them."""
    if isinstance(runtime.clock, SimulatedClock) and not runtime.clock.known:
        return {"timers_due": 0}  # the loop does not fire before the first clock message either
    async with runtime.engine.connect() as conn:
        due, _ = await PgRepository(conn).due_backlog(until=runtime.clock.now())
    return {"timers_due": due}
