"""Load mode: a sustained event rate from many accounts, with end-to-end latency probes.

The clock stays still (one simulated instant), so what is measured is the pipeline, not the
playbooks' waits. A probe is a brand-new account signing its contract while the load runs:
its latency is event sent -> first health score committed (health's API answers) -> the
welcome mail in the sink.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from touchline.shared.settings import CommonSettings
from touchline.sim.barrier import Barrier
from touchline.sim.client import Endpoints, SimulationError, StackClient
from touchline.sim.mailbox import Mailbox, address_of
from touchline.sim.personas import make_accounts
from touchline.sim.plan import Config, batches, events_of_day, to_segment

TICK_S = 0.1
PROBE_TIMEOUT_S = 60.0


@dataclass
class Probe:
    account_id: str
    admin_email: str
    sent_at: float
    scored_at: float | None = None
    mailed_at: float | None = None


@dataclass
class LoadResult:
    target_rate: float
    sent: int
    wall_s: float
    drain_s: float
    probes: list[Probe] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.wall_s if self.wall_s else 0.0

    def latencies(self, which: str) -> list[float]:
        ends = [getattr(p, which) for p in self.probes]
        return sorted(end - p.sent_at for p, end in zip(self.probes, ends, strict=True) if end is not None)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q * 100) - 1))]


def describe(result: LoadResult) -> str:
    lines = [
        f"load: {result.sent:,} events in {result.wall_s:.1f}s = {result.rate:,.0f} events/s "
        f"(target {result.target_rate:,.0f}); drained {result.drain_s:.1f}s after the last send"
    ]
    for label, which in (("event -> score committed", "scored_at"), ("event -> mail in sink", "mailed_at")):
        values = result.latencies(which)
        if not values:
            lines.append(f"  {label}: no probe completed within {PROBE_TIMEOUT_S:.0f}s")
            continue
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        lines.append(
            f"  {label}: p50 {p50:.2f}s  p95 {p95:.2f}s  max {values[-1]:.2f}s  "
            f"({len(values)}/{len(result.probes)} probes)"
        )
    return "\n".join(lines)


async def run_load(
    config: Config,
    *,
    common: CommonSettings,
    endpoints: Endpoints,
    mail_dir: Path,
    rate: float,
    duration_s: float,
    probes: int,
    out: Callable[[str], None] = print,
) -> LoadResult:
    if rate <= 0 or duration_s <= 0:
        raise SimulationError("rate and duration must be positive")
    accounts = make_accounts(seed=config.seed, count=config.accounts, start=config.start, id_prefix=config.id_prefix)
    now = config.start + timedelta(hours=9)
    mailbox = Mailbox(mail_dir)
    mailbox.skip_existing()
    async with StackClient(endpoints, max_connections=64) as client:
        await client.wait_ready()
        barrier = Barrier(common, client)
        await barrier.start()
        try:
            await barrier.set_clock(now)
            intro = events_of_day(accounts, config=replace(config, history_days=0), day=0)
            await _send_all(client, [to_segment(e, sent_at=now) for e in intro if e.type != "track"])
            await barrier.drain()
            out(f"load: {len(accounts):,} accounts introduced; sending {rate:,.0f} events/s for {duration_s:.0f}s")
            result = LoadResult(target_rate=rate, sent=0, wall_s=0.0, drain_s=0.0)
            watcher = asyncio.create_task(_watch_probes(client, mailbox, result.probes, expected=probes))
            await _drive(client, config, accounts, result, duration_s=duration_s, probes=probes, now=now)
            began = time.monotonic()
            await barrier.drain()
            result.drain_s = time.monotonic() - began
            await watcher
        finally:
            await barrier.stop()
    out(describe(result))
    return result


async def _send_all(client: StackClient, calls: list[dict[str, Any]]) -> None:
    gate = asyncio.Semaphore(8)

    async def one(batch: list[dict[str, Any]]) -> None:
        async with gate:
            await client.send_batch(batch)

    await asyncio.gather(*(one(b) for b in batches(calls)))


def _usage_stream(config: Config, accounts: list[Any], now: Any) -> Any:
    """Endless usage, day after day of the personas' plans, every event stamped ``now``."""
    day = 1
    while True:
        for event in events_of_day(accounts, config=config, day=day):
            if event.type == "track":
                yield to_segment(replace(event, at=now), sent_at=now)
        day += 1


async def _drive(
    client: StackClient,
    config: Config,
    accounts: list[Any],
    result: LoadResult,
    *,
    duration_s: float,
    probes: int,
    now: Any,
) -> None:
    stream = _usage_stream(config, accounts, now)
    rate = result.target_rate
    probe_every = duration_s / (probes + 1) if probes else None
    next_probe = probe_every
    pending: set[asyncio.Task[None]] = set()
    began = time.monotonic()
    while (elapsed := time.monotonic() - began) < duration_s:
        # Catch up to the schedule rather than add a tick's worth: a slow tick is not lost.
        calls = [next(stream) for _ in range(int(rate * (elapsed + TICK_S)) - result.sent)]
        for batch in batches(calls):
            task = asyncio.create_task(client.send_batch(batch))
            pending.add(task)
            task.add_done_callback(pending.discard)
        result.sent += len(calls)
        if next_probe is not None and elapsed >= next_probe and len(result.probes) < probes:
            result.probes.append(await _start_probe(client, config, len(result.probes), now))
            next_probe += probe_every  # type: ignore[operator]
        await asyncio.sleep(max(0.0, TICK_S - (time.monotonic() - began - elapsed)))
    if pending:
        await asyncio.gather(*pending)
    result.wall_s = time.monotonic() - began


async def _start_probe(client: StackClient, config: Config, index: int, now: Any) -> Probe:
    account = make_accounts(
        seed=config.seed, count=1, start=now, id_prefix=f"{config.id_prefix}-probe{index}",
        personas=("stalled_onboarding",), tiers=("tech",),
    )[0]  # fmt: skip
    events = events_of_day([account], config=replace(config, start=now, history_days=0), day=0)
    calls = [to_segment(replace(e, at=now), sent_at=now) for e in events]
    sent_at = time.monotonic()
    await client.send_batch(calls)
    return Probe(account_id=account.account_id, admin_email=account.users[0].email, sent_at=sent_at)


async def _watch_probes(client: StackClient, mailbox: Mailbox, probes: list[Probe], *, expected: int) -> None:
    """While the load runs and after: note when each probe is scored and mailed. Ends when every
    probe the load started is done, or PROBE_TIMEOUT_S after the newest one started."""
    started = time.monotonic()
    while expected > 0:
        await asyncio.sleep(0.05)
        by_email = {p.admin_email: p for p in probes}
        for mail in mailbox.new_mails():
            probe = by_email.get(address_of(mail.to[0])) if mail.to else None
            if probe is not None and probe.mailed_at is None:
                probe.mailed_at = time.monotonic()
        for probe in probes:
            if probe.scored_at is None:
                response = await client.http.get(
                    f"{client.endpoints.url('health')}/v1/accounts/{probe.account_id}", headers=client._bearer()
                )
                if response.status_code == 200:
                    probe.scored_at = time.monotonic()
        newest = max((p.sent_at for p in probes), default=started)
        if _all_done(probes, expected) or time.monotonic() - newest > PROBE_TIMEOUT_S:
            return


def _all_done(probes: list[Probe], expected: int) -> bool:
    return len(probes) >= expected and all(p.scored_at is not None and p.mailed_at is not None for p in probes)
