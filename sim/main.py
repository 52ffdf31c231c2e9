"""``touchline simulate [run|load|plan] ...``: the product simulator's command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from touchline.shared.clock import parse_instant
from touchline.shared.kafka import read_clock
from touchline.shared.settings import CommonSettings
from touchline.sim.barrier import Barrier
from touchline.sim.client import DEFAULT_URLS, Endpoints, SimulationError, StackClient, default_urls
from touchline.sim.mailbox import Mailbox
from touchline.sim.observe import Observer
from touchline.sim.personas import PERSONAS, Account, make_accounts
from touchline.sim.plan import DEFAULT_START, Config, events_of_day
from touchline.sim.report import summary, week_line
from touchline.sim.runner import Runner, Tally

MAX_ACCOUNTS = 10_000


@dataclass
class Outcome:
    """What a run leaves behind, for the caller (CLI, e2e tests)."""

    config: Config
    accounts: list[Account]
    runner: Runner
    total: Tally
    report: str = ""
    weeks: list[str] = field(default_factory=list)


async def choose_start(common: CommonSettings, requested: datetime | None) -> datetime:
    """The requested start, else the default, moved past wherever the shared clock already is
    (a dev stack remembers earlier runs; its clock must never go backwards)."""
    if requested is not None:
        return requested
    current = await read_clock(common.kafka_bootstrap_servers, prefix=common.topic_prefix)
    if current is None or current.now < DEFAULT_START:
        return DEFAULT_START
    next_day = current.now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return next_day


async def simulate(
    config: Config,
    *,
    common: CommonSettings,
    endpoints: Endpoints,
    mail_dir: Path,
    tiers: tuple[str, ...] | None = None,
    personas: tuple[str, ...] = PERSONAS,
    out: Callable[[str], None] = print,
    quiet_s: float = 0.5,
) -> Outcome:
    """Run ``config`` against the stack at ``endpoints``; prints a line per simulated week."""
    began = time.monotonic()
    accounts = make_accounts(
        seed=config.seed,
        count=config.accounts,
        start=config.start,
        id_prefix=config.id_prefix,
        personas=personas,  # type: ignore[arg-type]
        tiers=tiers,  # type: ignore[arg-type]
    )
    mailbox = Mailbox(mail_dir)
    mailbox.skip_existing()
    async with StackClient(endpoints) as client:
        await client.wait_ready()
        observer = Observer(client, [a.account_id for a in accounts])
        barrier = Barrier(common, client, quiet_s=quiet_s)
        await barrier.start()
        week = Tally()
        weeks: list[str] = []

        async def on_day(day: int, today: Tally) -> None:
            week.add(today)
            if (day + 1) % 7 and day + 1 != config.days:
                return
            line = week_line(
                week=day // 7 + 1,
                day=day + 1,
                date=config.day_start(day).date().isoformat(),
                tally=week,
                observed=await observer.observe(light=True),
            )
            weeks.append(line)
            out(line)
            week.__init__()  # type: ignore[misc]

        runner = Runner(
            config=config, accounts=accounts, client=client, barrier=barrier, mailbox=mailbox, on_day=on_day
        )
        try:
            total = await runner.run()
            observed = await observer.observe(light=False)
        finally:
            await barrier.stop()
    report = summary(
        accounts=len(accounts),
        days=config.days,
        wall_s=time.monotonic() - began,
        total=total,
        observed=observed,
        where=where_to_look(endpoints, mail_dir),
        timings={
            "clock moves": runner.timings.settle_s,
            "sending": runner.timings.send_s,
            "waiting for the pipeline": runner.timings.drain_s,
        },
    )
    out(report)
    return Outcome(config=config, accounts=accounts, runner=runner, total=total, report=report, weeks=weeks)


def where_to_look(endpoints: Endpoints, mail_dir: Path) -> dict[str, str]:
    return {
        "inbox": f"{mail_dir} (one .eml per mail, index.jsonl lists them)",
        "API docs": ", ".join(f"{endpoints.url(s)}/docs" for s in ("ingest", "health", "touch", "notify")),
        "console": "http://127.0.0.1:8005 (when `touchline console` runs)",
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touchline simulate", description="simulated customers for Touchline")
    sub = parser.add_subparsers(dest="mode")
    for name, help_ in (("run", "simulate day by day (default)"), ("plan", "print the plan only; no stack needed")):
        p = sub.add_parser(name, help=help_)
        _common_args(p)
    load = sub.add_parser("load", help="a sustained event rate with end-to-end latency probes")
    _common_args(load)
    load.add_argument("--rate", type=float, default=500.0, help="events per second (default 500)")
    load.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    load.add_argument("--probes", type=int, default=5, help="latency probes: new accounts signing (default 5)")
    return parser


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accounts", type=int, default=50, help=f"customer accounts, 1-{MAX_ACCOUNTS:,} (default 50)")
    p.add_argument("--days", type=int, default=120, help="simulated days (default 120)")
    p.add_argument("--seed", type=int, default=7, help="random seed: same seed, same customers and behaviour")
    p.add_argument("--start", help="first simulated day, ISO (default: 2027-01-04 or the day after the clock)")
    p.add_argument("--history-days", type=int, default=60, help="days of past usage sent on day 0 (default 60)")
    p.add_argument("--backfill-all", action="store_true", help="history for every account, not only trend personas")
    p.add_argument(
        "--silent-days", type=int, default=365, help="the long-silent account was last heard of this long ago"
    )
    p.add_argument("--prefix", help="account id prefix (default: derived from the start date)")
    p.add_argument("--tier", choices=["tech", "low", "high"], action="append", help="force tiers (repeatable)")
    p.add_argument("--persona", choices=PERSONAS, action="append", help="only these personas (repeatable)")
    p.add_argument("--mail-dir", type=Path, help="the SMTP sink's folder (default: $TOUCHLINE_HOME/mail)")
    for service, url in default_urls().items():
        p.add_argument(f"--{service}-url", default=url, help=f"{service} base URL (default {url})")


def _validate(args: argparse.Namespace) -> None:
    if not 1 <= args.accounts <= MAX_ACCOUNTS:
        raise SystemExit(f"--accounts: expected 1-{MAX_ACCOUNTS:,}, got {args.accounts}")
    if args.days < 1:
        raise SystemExit(f"--days: expected at least 1, got {args.days}")
    if args.history_days < 0:
        raise SystemExit(f"--history-days: expected 0 or more, got {args.history_days}")
    if args.silent_days < 0:
        raise SystemExit(f"--silent-days: expected 0 or more, got {args.silent_days}")


def _config(args: argparse.Namespace, start: datetime) -> Config:
    prefix = args.prefix or f"c{start:%Y%m%d}"
    return Config(
        seed=args.seed, accounts=args.accounts, days=args.days, start=start, id_prefix=prefix,
        history_days=args.history_days, backfill=None if args.backfill_all else Config.backfill,
        silent_days=args.silent_days,
    )  # fmt: skip


def _endpoints(args: argparse.Namespace, common: CommonSettings) -> Endpoints:
    urls = {s: getattr(args, f"{s}_url") for s in DEFAULT_URLS}
    return Endpoints(urls=urls, api_token=common.api_token.get_secret_value())


def _mail_dir(args: argparse.Namespace) -> Path:
    if args.mail_dir:
        return Path(args.mail_dir)
    from touchline.shared.stack.layout import default_home

    return default_home() / "mail"


def _plan(config: Config, args: argparse.Namespace) -> int:
    accounts = make_accounts(
        seed=config.seed, count=config.accounts, start=config.start, id_prefix=config.id_prefix,
        personas=tuple(args.persona or PERSONAS), tiers=tuple(args.tier) if args.tier else None,
    )  # fmt: skip
    for account in accounts:
        print(f"{account.account_id}  {account.persona:<18} {account.tier:<4} ARR {account.arr:>7,}  "
              f"users {len(account.users)}  renewal {account.renewal_date}  {account.locale}")  # fmt: skip
    for day in range(config.days):
        events = events_of_day(accounts, config=config, day=day)
        print(f"day {day:>3} {config.day_start(day).date()}: {len(events):>6} events")
    return 0


def cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv if argv and argv[0] in ("run", "plan", "load", "-h", "--help") else ["run", *argv])
    _validate(args)
    if args.mode == "plan":
        return _plan(_config(args, parse_instant(args.start) if args.start else DEFAULT_START), args)
    common = CommonSettings()
    try:
        start = asyncio.run(choose_start(common, parse_instant(args.start) if args.start else None))
        config = _config(args, start)
        if args.mode == "load":
            from touchline.sim.load import run_load

            asyncio.run(
                run_load(
                    replace(config, history_days=0), common=common, endpoints=_endpoints(args, common),
                    mail_dir=_mail_dir(args), rate=args.rate, duration_s=args.duration, probes=args.probes,
                )
            )  # fmt: skip
            return 0
        asyncio.run(
            simulate(
                config, common=common, endpoints=_endpoints(args, common), mail_dir=_mail_dir(args),
                tiers=tuple(args.tier) if args.tier else None, personas=tuple(args.persona or PERSONAS),
            )
        )  # fmt: skip
    except SimulationError as exc:
        print(f"touchline simulate: {exc}", file=sys.stderr)
        return 1
    return 0
