"""Admin commands: migrations, topics, the simulated clock, the configuration table."""

from __future__ import annotations

import argparse
import asyncio
import importlib
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from . import topics
from .clock import parse_duration, parse_instant
from .kafka import KafkaPublisher, create_topics, make_producer, read_clock
from .messages import ClockSet
from .migrate import upgrade_all
from .settings import DEV_SECRET_PREFIX, CommonSettings

# Settings classes listed in the README's configuration table, in order.
SETTINGS_CLASSES = (
    "touchline.shared.settings:CommonSettings",
    "touchline.ingest.settings:IngestSettings",
    "touchline.health.settings:HealthSettings",
    "touchline.touch.settings:TouchSettings",
    "touchline.notify.settings:NotifySettings",
    "touchline.console.settings:ConsoleSettings",
)


# `touchline clock set/advance` writes the simulated time (the simulator does too, as a clock
# admin); `clock show` reads the latest ClockSet once, which is not consuming the topic.
TOPOLOGY = topics.Topology(service="clock admin", consumes=(), emits=(topics.CLOCK,))


def migrate_cli(argv: list[str]) -> int:
    common = CommonSettings()
    done = asyncio.run(upgrade_all(common.database_url))
    print(f"migrated: {', '.join(done) or 'nothing'}")
    return 0


def topics_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="touchline topics")
    parser.add_argument("action", choices=["create", "list"])
    args = parser.parse_args(argv)
    common = CommonSettings()
    if args.action == "list":
        for t in topics.ALL:
            print(
                f"{topics.name(t, common.topic_prefix):<28} partitions={t.partitions:<3} {t.producer} -> {', '.join(t.consumers)}"
            )
        return 0
    created = asyncio.run(create_topics(common.kafka_bootstrap_servers, prefix=common.topic_prefix))
    print(f"created topics: {', '.join(created) or 'none (all exist)'}")
    return 0


async def publish_clock(common: CommonSettings, now: datetime) -> ClockSet:
    producer = make_producer(common.kafka_bootstrap_servers)
    await producer.start()
    try:
        message = ClockSet(now=now, seq=int(datetime.now(UTC).timestamp() * 1000))
        await KafkaPublisher(producer, source="touchline/clock", prefix=common.topic_prefix).publish(
            topics.CLOCK, [message]
        )
        return message
    finally:
        await producer.stop()


async def move_clock(common: CommonSettings, *, set_to: datetime | None = None, advance: str | None = None) -> datetime:
    """Set or advance the simulated clock; returns the new time."""
    if set_to is None:
        current = await read_clock(common.kafka_bootstrap_servers, prefix=common.topic_prefix)
        if current is None:
            raise SystemExit("the simulated clock was never set: use `touchline clock set 2027-01-01T09:00Z` first")
        set_to = current.now + parse_duration(advance or "0s")
    return (await publish_clock(common, set_to)).now


def clock_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="touchline clock", description="show or move the simulated clock")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("show")
    set_p = sub.add_parser("set")
    set_p.add_argument("instant", help="ISO-8601, e.g. 2027-01-01T09:00Z")
    adv = sub.add_parser("advance")
    adv.add_argument("duration", help="e.g. 30d, 12h, 90m")
    args = parser.parse_args(argv)
    common = CommonSettings()
    if args.action == "show":
        current = asyncio.run(read_clock(common.kafka_bootstrap_servers, prefix=common.topic_prefix))
        print(current.now.isoformat() if current else "never set (services use the wall clock)")
        return 0
    if args.action == "set":
        now = asyncio.run(move_clock(common, set_to=parse_instant(args.instant)))
    else:
        now = asyncio.run(move_clock(common, advance=args.duration))
    print(f"simulated clock: {now.isoformat()}")
    return 0


def config_rows() -> list[tuple[str, str, str]]:
    """(env var, default, description) for every setting of every service that exists."""
    rows: list[tuple[str, str, str]] = []
    for target in SETTINGS_CLASSES:
        module_name, _, cls_name = target.partition(":")
        try:
            cls: type[BaseSettings] = getattr(importlib.import_module(module_name), cls_name)
        except ImportError:
            continue
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field_name, info in cls.model_fields.items():
            default = info.get_default(call_default_factory=True)
            shown = _shown_default(default)
            rows.append((f"{prefix}{field_name}".upper(), shown, info.description or ""))
    return rows


def _shown_default(default: object) -> str:
    if isinstance(default, SecretStr):
        secret = default.get_secret_value()
        return "(secret, dev default)" if secret.startswith(DEV_SECRET_PREFIX) else "(secret)" if secret else '""'
    return str(default)


def config_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | `{default}` | {desc} |" for name, default, desc in config_rows()]
    return "\n".join(lines)


START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def with_config_table(readme: str) -> str:
    """The README text with the block between the config-table markers regenerated."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{config_table()}\n{END}{tail}"


def config_table_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="touchline config-table")
    parser.add_argument("--write", metavar="README", help="rewrite the table inside this file's markers")
    args = parser.parse_args(argv)
    if args.write:
        path = Path(args.write)
        path.write_text(with_config_table(path.read_text()))
        print(f"configuration table written to {path}")
    else:
        print(config_table())
    return 0
