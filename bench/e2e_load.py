"""End-to-end latency under a sustained event rate, beside the same probes on an idle stack.

Runs against the local stack (started if needed, as `make up`): the simulator introduces
``--accounts`` accounts, then sends their usage through ingest's Segment API at ``--rate``
events/s for ``--duration`` seconds. Probes are new accounts signing their contract during the
load; each reports event sent -> first health score committed (health's API answers) -> the
onboarding welcome mail in the SMTP sink. The baseline is the same probes with a trickle of
load (5 events/s). The simulated clock stays still, so only the pipeline is measured.

    .venv/bin/python -m bench.e2e_load [--accounts 1000] [--rate 1000] [--duration 30] [--probes 6]
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from datetime import timedelta

from touchline.shared.settings import CommonSettings
from touchline.shared.stack.cli import up
from touchline.shared.stack.layout import Layout
from touchline.sim.client import Endpoints
from touchline.sim.load import LoadResult, percentile, run_load
from touchline.sim.main import choose_start
from touchline.sim.plan import Config


def _row(label: str, result: LoadResult) -> str:
    cells = [f"{label:<22}", f"{result.rate:>9,.0f}"]
    for which in ("scored_at", "mailed_at"):
        values = result.latencies(which)
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        cells += [
            f"{p50:>8.2f}" if p50 is not None else f"{'-':>8}",
            f"{p95:>8.2f}" if p95 is not None else f"{'-':>8}",
        ]
    cells.append(f"{result.drain_s:>9.1f}")
    return " ".join(cells)


async def main(accounts: int, rate: float, duration: float, probes: int) -> None:
    layout = Layout.at()
    common = CommonSettings()
    start = await choose_start(common, None)
    config = Config(seed=3, accounts=accounts, days=1, start=start, id_prefix=f"bench{start:%Y%m%d}")
    quiet = lambda line: None  # noqa: E731
    idle = await run_load(
        replace(config, accounts=20, id_prefix=f"{config.id_prefix}i"), common=common, endpoints=Endpoints(),
        mail_dir=layout.mail_dir, rate=5, duration_s=10, probes=3, out=quiet,
    )  # fmt: skip
    loaded = await run_load(
        replace(config, start=start + timedelta(hours=1)), common=common, endpoints=Endpoints(),
        mail_dir=layout.mail_dir, rate=rate, duration_s=duration, probes=probes, out=quiet,
    )  # fmt: skip
    print(f"end-to-end latency, {accounts:,} accounts, {duration:.0f}s of load, local stack (one process per service)")
    print(f"{'':<22} {'events/s':>9} {'score p50':>8} {'p95':>8} {'mail p50':>8} {'p95':>8} {'drain s':>9}")
    print(_row("baseline (5 events/s)", idle))
    print(_row(f"load ({rate:,.0f} events/s)", loaded))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--probes", type=int, default=6)
    args = parser.parse_args()
    up(Layout.at())
    asyncio.run(main(args.accounts, args.rate, args.duration, args.probes))
