"""What the services say about the simulated accounts, read through their public APIs.

Every read is optional: an API that does not answer (not deployed, older version) leaves its
part of the report as "n/a" instead of stopping a run that is otherwise fine.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from touchline.sim.client import SimulationError, StackClient
from touchline.sim.report import Observed

CONCURRENCY = 16
# Above this many accounts the weekly progress line skips per-account reads (they would cost
# more than the simulated week itself); the final summary always reads them.
LIGHT_LIMIT = 300


class Observer:
    def __init__(self, client: StackClient, account_ids: Sequence[str]) -> None:
        self.client = client
        self.account_ids = list(account_ids)
        self._ids = set(account_ids)

    async def observe(self, *, light: bool) -> Observed:
        observed = Observed()
        if not (light and len(self.account_ids) > LIGHT_LIMIT):
            bands = await self._per_account(self.band)
            tiers = await self._per_account(self.tier)
            if bands is not None:
                observed.bands = Counter(b for b in bands.values() if b)
                if tiers is not None:
                    observed.band_by_tier = {}
                    for account_id, band in bands.items():
                        tier = tiers.get(account_id) or "unknown"
                        observed.band_by_tier.setdefault(tier, Counter())[band or "unscored"] += 1
        tasks = await self.tasks()
        if tasks is not None:
            observed.open_tasks = sum(1 for t in tasks if t.get("status") == "open")
            observed.tasks_by_reason = Counter(str(t.get("reason") or t.get("type")) for t in tasks)
            observed.tasks = tasks
        return observed

    async def _per_account(self, read: Any) -> dict[str, Any] | None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(account_id: str) -> Any:
            async with gate:
                return await read(account_id)

        try:
            values = await asyncio.gather(*(one(a) for a in self.account_ids))
        except SimulationError:
            return None
        return dict(zip(self.account_ids, values, strict=True))

    async def band(self, account_id: str) -> str | None:
        body = await self._get_or_none("health", f"/v1/accounts/{account_id}")
        return None if body is None else body.get("band")

    async def tier(self, account_id: str) -> str | None:
        body = await self._get_or_none("touch", f"/v1/accounts/{account_id}/tier")
        return None if body is None else body.get("tier")

    async def account_tasks(self, account_id: str) -> list[dict[str, Any]]:
        body = await self.client.get_json("notify", "/v1/tasks", account_id=account_id, limit=1000)
        return list(body["tasks"])

    async def tasks(self) -> list[dict[str, Any]] | None:
        """CSM tasks of the simulated accounts: all of them for a small run, the open ones (up
        to 1,000) for a large one."""
        if len(self.account_ids) <= LIGHT_LIMIT:
            per_account = await self._per_account(self.account_tasks)
            return None if per_account is None else [t for ts in per_account.values() for t in ts]
        try:
            body = await self.client.get_json("notify", "/v1/tasks", status="open", limit=1000)
        except SimulationError:
            return None
        return [t for t in body["tasks"] if t.get("account_id") in self._ids]

    async def _get_or_none(self, service: str, path: str) -> dict[str, Any] | None:
        """The JSON body; None when the service says it has nothing for that account yet."""
        response = await self.client.get(service, path)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise SimulationError(f"{service} {path}: {response.status_code} {response.text[:200]}")
        body = response.json()
        return body if isinstance(body, dict) else None
