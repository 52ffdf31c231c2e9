"""notify as a real process (`touchline notify`): it starts, becomes ready, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import httpx
from notify_harness import eventually

from touchline.shared.stack.layout import free_port


async def test_the_notify_process_becomes_ready_and_stops_cleanly_on_sigterm(env_for_subprocess):
    port = free_port()
    env = {**env_for_subprocess, "TOUCHLINE_NOTIFY_PORT": str(port), "TOUCHLINE_NOTIFY_SMTP_PORT": str(free_port())}
    process = subprocess.Popen(
        [sys.executable, "-m", "touchline.shared.cli", "notify"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                if process.poll() is not None:
                    raise AssertionError(f"notify exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, what="notify ready", seconds=60)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 30)
        # uvicorn shuts down gracefully, then re-raises the signal it caught, so -SIGTERM is a clean stop.
        assert code in (0, -signal.SIGTERM), process.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
