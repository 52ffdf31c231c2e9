"""The durable timer loop: waits live in Postgres and fire by the shared clock.

Wakes when the clock moves (or every poll interval), then repeatedly takes the account with
the earliest due timer that no other replica holds (``FOR UPDATE SKIP LOCKED`` on the timer
rows, then a non-blocking per-account advisory lock), fires that account's due timers in
order, each as of its own due time, publishes the commands and commits. A crash between
publish and commit fires the same timers again with the same command ids; notify drops copies.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.shared import topics
from touchline.shared.clock import Clock, SimulatedClock

from .adapters.postgres import PgRepository
from .flows import Flows
from .ports import Publisher

log = logging.getLogger(__name__)


@dataclass
class TimerLoop:
    engine: AsyncEngine
    flows: Flows
    clock: Clock
    publisher: Publisher
    poll_seconds: float = 1.0
    claim: int = 50
    fired_accounts: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.clock.changed(timeout=self.poll_seconds)
            if isinstance(self.clock, SimulatedClock) and not self.clock.known:
                continue  # before the first clock message, "now" would be the wall clock
            while not stop.is_set() and await self.fire_once():
                pass

    async def fire_once(self) -> bool:
        """Fire the due timers of one account; False when nothing due could be taken."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            repo = PgRepository(conn)
            for account_id in await repo.due_accounts(until=now, limit=self.claim):
                if not await repo.try_lock_account(account_id):
                    continue  # the consumer or an API call is on this account; next round
                commands = await self.flows.fire_due(repo, account_id, until=now)
                if commands:
                    await self.publisher.publish(topics.COMMANDS, commands)
                self.fired_accounts += 1
                return True
        return False
