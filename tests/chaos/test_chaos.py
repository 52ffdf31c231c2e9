"""Chaos: one deterministic workload replayed twice -- clean, then with faults -- compared.

Faults (one leg each, on its own simulated day, while the pipeline processes that day's events):
kill -9 of health, of touch and of notify (each restarted), kill -9 of the broker (restarted), a
Postgres restart, a 15-second Postgres outage and an SMTP outage. Compared through the read APIs and the mail sink: scores
and health details, enrolments, tasks (missing / duplicated), mails (lost / duplicated under
another Message-ID). Every figure must be zero.

Sized for CI by default; ``make chaos`` runs a larger replay (TOUCHLINE_CHAOS_ACCOUNTS,
TOUCHLINE_CHAOS_DAYS). Runs on a Postgres server and a Kafka broker of its own (never the shared ones).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_stack import ChaosStack, free_ports, stack_env
from chaos_workload import Leg, Snapshot, config_for, differences, replay
from own_kafka import OwnKafka, own_kafka
from own_postgres import OwnPostgres, own_postgres

from touchline.shared.settings import CommonSettings
from touchline.shared.stack.testing import discard, isolated
from touchline.sim.client import SERVICES

ACCOUNTS = int(os.environ.get("TOUCHLINE_CHAOS_ACCOUNTS", "6"))
DAYS = int(os.environ.get("TOUCHLINE_CHAOS_DAYS", "7"))
PG_OUTAGE_S = 15.0
SMTP_OUTAGE_S = 8.0


def _kill_and_restart(service: str) -> Any:
    async def leg(stack: ChaosStack) -> None:
        await asyncio.sleep(0.3)  # into the day's processing
        stack.kill(service)
        await stack.restart(service)

    return leg


def _postgres_down(server: OwnPostgres, seconds: float) -> Any:
    async def leg(stack: ChaosStack) -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.stop)
        if seconds:
            began = asyncio.get_running_loop().time()
            # Alive and saying why they are not ready, for as long as the database is away.
            problems = await stack.wait_not_ready()
            assert all(any(p.startswith("database") for p in found) for found in problems.values()), problems
            await asyncio.sleep(max(0.0, seconds - (asyncio.get_running_loop().time() - began)))
        await asyncio.to_thread(server.start)
        # Nothing may have exited meanwhile, and every service must say it is ready again.
        await stack.wait_ready()

    return leg


async def _smtp_down(stack: ChaosStack) -> None:
    stack.stop_sink()
    await asyncio.sleep(SMTP_OUTAGE_S)
    stack.start_sink()


def _broker_killed(broker: OwnKafka) -> Any:
    async def leg(stack: ChaosStack) -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(broker.kill)
        # The consumers stay up and say the broker is away (ingest reports it its own way).
        problems = await stack.wait_not_ready(("health", "touch", "notify"))
        assert all(any(p.startswith("broker") for p in found) for found in problems.values()), problems
        await asyncio.to_thread(broker.start)
        await stack.wait_ready()

    return leg


def legs(server: OwnPostgres, broker: OwnKafka) -> list[Leg]:
    planned = [
        ("kill -9 notify", _kill_and_restart("notify")),
        ("kill -9 broker", _broker_killed(broker)),
        ("smtp outage", _smtp_down),
        ("kill -9 health", _kill_and_restart("health")),
        ("kill -9 touch", _kill_and_restart("touch")),
        ("postgres restart", _postgres_down(server, 0.0)),
        (f"postgres outage {PG_OUTAGE_S:.0f}s", _postgres_down(server, PG_OUTAGE_S)),
    ]
    # Spread over the days; with fewer days than legs some days carry two.
    return [Leg(name, i % DAYS, fault) for i, (name, fault) in enumerate(planned)]


@pytest.fixture(scope="module")
def server() -> Iterator[OwnPostgres]:
    with own_postgres() as pg:
        yield pg


@pytest.fixture(scope="module")
def broker() -> Iterator[OwnKafka]:
    with own_kafka() as kafka:
        yield kafka


async def _run(
    name: str,
    server: OwnPostgres,
    broker: OwnKafka,
    common: CommonSettings,
    base_env: dict[str, str],
    base: Path,
    chosen: list[Leg],
) -> Snapshot:
    bootstrap = broker.bootstrap
    database_url, prefix = await isolated(bootstrap, server.url, tag="chaos")
    ports, sink_port = free_ports()
    env = stack_env(
        base_env, database_url=database_url, topic_prefix=prefix, bootstrap=bootstrap, ports=ports, sink_port=sink_port
    )
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    stack = ChaosStack(env, database_url, prefix, bootstrap, folder, ports, sink_port)
    run_common = common.model_copy(
        update={"database_url": database_url, "topic_prefix": prefix, "kafka_bootstrap_servers": bootstrap}
    )
    stack.start_sink()
    try:
        for service in SERVICES:
            stack.start(service)
        await stack.wait_ready()
        snapshot = await replay(stack, run_common, config_for(accounts=ACCOUNTS, days=DAYS), chosen, log=print)
        assert stack.exited() == [], f"{stack.exited()} exited during the run\n{stack.log_tails()}"
        return snapshot
    finally:
        stack.stop_all()
        stack.stop_sink()
        await stack.close()
        await discard(database_url=database_url, bootstrap_servers=bootstrap, topic_prefix=prefix)


async def test_nothing_is_lost_or_doubled_by_kills_and_outages(
    server: OwnPostgres, broker: OwnKafka, common: CommonSettings, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    clean = await _run("clean", server, broker, common, env_for_subprocess, tmp_path, [])
    chaos = await _run("chaos", server, broker, common, env_for_subprocess, tmp_path, legs(server, broker))
    found = differences(clean, chaos)
    print(
        f"chaos: {ACCOUNTS} accounts x {DAYS} days, {clean.events_sent} events, {sum(clean.mails.values())} mails, "
        f"{sum(clean.tasks.values())} tasks, {sum(clean.enrolments.values())} enrolments; sink dropped "
        f"{chaos.sink_duplicates} copies under a known Message-ID; differences: {found}"
    )
    assert sum(clean.mails.values()) > 0 and clean.scores, "the workload must produce mail and scores"
    assert found == dict.fromkeys(found, 0)
