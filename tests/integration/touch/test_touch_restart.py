"""touch as a real process, killed with SIGKILL in the middle of a wait: the wait still fires, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from touch_support import DAY, Commands, Feed, eventually, new_account, what  # type: ignore[import-not-found]

from touchline.shared.admin import publish_clock
from touchline.shared.db import make_engine
from touchline.shared.kafka import read_clock
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import free_port


@asynccontextmanager
async def touch_process(env: dict[str, str], port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    env = {**env, "TOUCHLINE_TOUCH_PORT": str(port), "TOUCHLINE_TOUCH_TIMER_POLL_SECONDS": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "touchline.shared.cli", "touch"], env=env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout=60, what="touch ready")
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


async def clock_seen(port: int, when: datetime) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

        async def probe() -> bool:
            return datetime.fromisoformat((await client.get("/clock")).json()["now"]) == when

        await eventually(probe, what=f"touch at {when}")


async def test_a_wait_survives_sigkill_and_fires_once_after_restart(
    common: CommonSettings, env_for_subprocess: dict[str, str]
) -> None:
    feed, commands = Feed(common), Commands(common)
    await feed.start()
    await commands.start()
    engine = make_engine(common.database_url)
    account = new_account()
    port = free_port()
    try:
        current = await read_clock(common.kafka_bootstrap_servers, prefix=common.topic_prefix)
        t0 = (current.now if current else datetime.fromisoformat("2036-01-01T09:00:00+00:00")) + DAY
        await publish_clock(common, t0)
        async with touch_process(env_for_subprocess, port) as proc:
            await clock_seen(port, t0)
            await feed.group(account, t0, arr=900, lifecycle_stage="adoption")
            await feed.health(account, t0, usage_trend=-0.6)
            [notice] = await commands.wait(account, 1, playbook="risk")
            assert what(notice) == "email:risk.decline_notice"
            await feed.consumed(engine)
            os.kill(proc.pid, signal.SIGKILL)  # mid-wait: the follow-up is due in 3 days
            proc.wait(timeout=30)
        await publish_clock(common, t0 + 4 * DAY)
        async with touch_process(env_for_subprocess, port):
            await clock_seen(port, t0 + 4 * DAY)
            [_, follow_up] = await commands.wait(account, 2, playbook="risk")
            assert (what(follow_up), follow_up.issued_at) == ("email:risk.use_cases", t0 + 3 * DAY)
            await publish_clock(common, t0 + 15 * DAY)
            await commands.wait(account, 3, playbook="risk")
        sent = [what(c) for c in commands.of(account, "risk")]
        assert sent == ["email:risk.decline_notice", "email:risk.use_cases", "task:risk_no_recovery:high"]
    finally:
        await commands.stop()
        await feed.stop()
        await engine.dispose()
