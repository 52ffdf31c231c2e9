"""End-to-end latency under a sustained event rate, beside the same probes on an idle stack.

Starts a stack of its own (ingest, health, touch, notify as processes, the SMTP sink as a process,
on the running Kafka and Postgres with a fresh database and topic prefix, as the e2e tests do),
then per account count: the simulator introduces ``--accounts`` accounts and sends their usage
through ingest's Segment API at ``--rate`` events/s for ``--duration`` seconds. Probes are new
accounts signing their contract during the load; each reports event sent -> first health score
committed (health's API answers) -> the onboarding welcome mail in the sink. The baseline, in the
same run on the same stack first, is the same kind of probes with a trickle of load (5 events/s).
The simulated clock stays still, so only the pipeline is measured.

    .venv/bin/python -m bench.e2e_load [--accounts 1000 20000] [--rate 1000] [--duration 30] [--probes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx

from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import free_port, port_open
from touchline.shared.stack.testing import discard, ensure_infra, isolated
from touchline.sim.client import SERVICES, Endpoints
from touchline.sim.load import LoadResult, percentile, run_load
from touchline.sim.main import choose_start
from touchline.sim.plan import Config

HOME = Path(__file__).resolve().parents[1] / ".touchline"
READY_TIMEOUT_S = 120.0


def _row(label: str, result: LoadResult) -> str:
    cells = [f"{label:<24}", f"{result.rate:>9,.0f}"]
    for which in ("scored_at", "mailed_at"):
        values = result.latencies(which)
        for q in (0.5, 0.95, 0.99):
            value = percentile(values, q)
            cells.append(f"{value:>6.2f}" if value is not None else f"{'-':>6}")
        cells.append(f"{len(values):>3}/{len(result.probes):<3}")
    cells.append(f"{result.drain_s:>7.1f}")
    return " ".join(cells)


@asynccontextmanager
async def stack(folder: Path) -> AsyncIterator[tuple[CommonSettings, Endpoints, Path]]:
    """The four services and the sink as processes on a fresh database and topic prefix."""
    infra = ensure_infra(HOME)
    url, prefix = await isolated(infra.bootstrap_servers, infra.database_url, tag="l")
    common = CommonSettings(
        env="test", kafka_bootstrap_servers=infra.bootstrap_servers, database_url=url, topic_prefix=prefix,
        clock="simulated",
    )  # fmt: skip
    mail_dir = folder / "mail"
    sink_port = free_port()
    ports = {service: free_port() for service in SERVICES}
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    env = {
        **os.environ,
        "TOUCHLINE_ENV": "test",
        "TOUCHLINE_CLOCK": "simulated",
        "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "TOUCHLINE_DATABASE_URL": url,
        "TOUCHLINE_TOPIC_PREFIX": prefix,
        "TOUCHLINE_NOTIFY_SMTP_HOST": "127.0.0.1",
        "TOUCHLINE_NOTIFY_SMTP_PORT": str(sink_port),
        "TOUCHLINE_NOTIFY_PUBLIC_URL": urls["notify"],
        **{f"TOUCHLINE_{s.upper()}_PORT": str(p) for s, p in ports.items()},
    }
    argv = [sys.executable, "-m", "touchline.shared.stack.smtp_sink", "--port", str(sink_port), "--dir", str(mail_dir)]
    processes = {"sink": subprocess.Popen(argv, stdout=subprocess.DEVNULL)}
    try:
        for service in SERVICES:
            with open(folder / f"{service}.log", "wb") as log:
                processes[service] = subprocess.Popen(
                    [sys.executable, "-m", "touchline.shared.cli", service],
                    env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = set(SERVICES)
        while waiting or not port_open(sink_port):
            dead = [name for name, p in processes.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise SystemExit(f"stack did not start ({dead or sorted(waiting)}); logs in {folder}")
            waiting = {s for s in waiting if not await _ready(urls[s])}
            await asyncio.sleep(0.3)
        yield common, Endpoints(urls=urls, api_token=common.api_token.get_secret_value()), mail_dir
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await discard(database_url=url, bootstrap_servers=infra.bootstrap_servers, topic_prefix=prefix)


async def _ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def measure(accounts: int, *, rate: float, duration: float, probes: int, idle_probes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="e2e-load-") as folder:
        async with stack(Path(folder)) as (common, endpoints, mail_dir):
            start = await choose_start(common, None)
            config = Config(seed=3, accounts=accounts, days=1, start=start, id_prefix=f"bench{start:%Y%m%d}")
            quiet = lambda line: None  # noqa: E731
            idle = await run_load(
                replace(config, accounts=20, id_prefix=f"{config.id_prefix}i"), common=common, endpoints=endpoints,
                mail_dir=mail_dir, rate=5, duration_s=max(10.0, idle_probes * 0.4), probes=idle_probes, out=quiet,
            )  # fmt: skip
            loaded = await run_load(
                replace(config, start=start + timedelta(hours=1)), common=common, endpoints=endpoints,
                mail_dir=mail_dir, rate=rate, duration_s=duration, probes=probes, out=quiet,
            )  # fmt: skip
    print(f"\nend-to-end latency (s), {accounts:,} accounts, {duration:.0f}s of load, a stack of its own")
    heading = f"{'':<24} {'events/s':>9}"
    for what in ("score", "mail"):
        heading += f" {what + ' p50':>6} {'p95':>6} {'p99':>6} {'probes':>7}"
    print(f"{heading} {'drain s':>7}")
    print(_row("baseline (5 events/s)", idle))
    print(_row(f"load ({rate:,.0f} events/s)", loaded))


async def main(accounts: list[int], rate: float, duration: float, probes: int, idle_probes: int) -> None:
    for count in accounts:
        await measure(count, rate=rate, duration=duration, probes=probes, idle_probes=idle_probes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--idle-probes", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.accounts, args.rate, args.duration, args.probes, args.idle_probes))
