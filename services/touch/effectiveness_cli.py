"""`touchline touch effectiveness PLAYBOOK`: the effectiveness report from touch's database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from touchline.shared.clock import SystemClock
from touchline.shared.db import make_engine
from touchline.shared.settings import CommonSettings

from .adapters.config import ConfigError
from .adapters.postgres import PgRepository
from .decisions import TouchConfig
from .domain.effectiveness import Inputs, effectiveness
from .effectiveness_api import EffectivenessView, report_view
from .settings import TouchSettings


async def _inputs(database_url: str, playbook: str) -> Inputs:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await PgRepository(conn).effectiveness_inputs(playbook)
    finally:
        await engine.dispose()


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 100:5.1f}%"


def render(view: EffectivenessView) -> str:
    """The report as text: per variant, each outcome enrolled vs held out, then the funnel."""
    lines = [f"playbook {view.playbook}: outcomes within {view.days} days of the start, enrolled vs held out"]
    if view.not_compared:
        lines.append(f"({view.not_compared} runs by hand or high touch are not compared)")
    for v in view.variants:
        lines += ["", f"variant {v.variant} (holdout {v.holdout}): {v.enrolled} enrolled, {v.held_out} held out"]
        for r in v.rates:
            diff = (
                ""
                if r.interval is None
                else f" diff {_pct(r.difference)} [{_pct(r.interval.low)}, {_pct(r.interval.high)}]"
            )
            lines.append(
                f"  {r.outcome:<16} enrolled {r.enrolled.count}/{r.enrolled.n} {_pct(r.enrolled.rate)}"
                f"  held out {r.held_out.count}/{r.held_out.n} {_pct(r.held_out.rate)}{diff}"
            )
            lines.append(f"  {'':<16} {r.summary}")
        n = v.nps_change
        lines.append(f"  {'nps_change':<16} {n.summary}")
        if v.funnel:
            lines.append("  funnel: step  sent  opened  clicked  answered  completed")
            for f in v.funnel:
                lines.append(f"    {f.step} ({f.kind}) {f.sent} {f.opened} {f.clicked} {f.answered} {f.completed}")
    return "\n".join(lines)


def effectiveness_cli(argv: list[str], *, load: Callable[[TouchSettings], TouchConfig]) -> int:
    parser = argparse.ArgumentParser(
        prog="touchline touch effectiveness", description="a playbook's enrolled runs against its holdout"
    )
    parser.add_argument("playbook")
    parser.add_argument("--days", type=int, default=None, help="days after a run's start (default: the setting)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    if args.days is not None and not 1 <= args.days <= 730:
        parser.error("--days: whole days from 1 to 730")
    try:
        config = load(TouchSettings())
    except ConfigError as exc:
        print("touch: invalid configuration:\n" + str(exc), file=sys.stderr)
        return 1
    playbook = config.playbooks.get(args.playbook)
    if playbook is None:
        print(
            f"touchline touch effectiveness: unknown playbook {args.playbook!r} (known: {', '.join(sorted(config.playbooks))})",
            file=sys.stderr,
        )
        return 2
    inputs = asyncio.run(_inputs(CommonSettings().database_url, args.playbook))
    # The service may run on a simulated clock ahead of the machine's: never cut windows before
    # the latest thing recorded.
    now = max([SystemClock().now(), *(r.enrolled_at for r in inputs.runs), *(f.at for f in inputs.facts)])
    report = effectiveness(
        playbook,
        inputs,
        days=args.days or config.effectiveness_days,
        now=now,
        min_accounts=config.effectiveness_min_accounts,
    )
    view = report_view(report, playbook, default=config.holdout_default, now=now)
    print(view.model_dump_json(indent=2) if args.json else render(view))
    return 0
