"""A service started while Postgres is away is early, not broken: it stays up, says it is not
ready and why, and keeps trying (issue 13: no service exits because a dependency is away)."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest
from waiting import eventually

from touchline.shared.stack.layout import free_port

SERVICES = ("ingest", "health", "touch", "notify")


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_started_without_its_database_stays_up_and_says_it_is_not_ready(
    env_for_subprocess: dict[str, str], service: str
) -> None:
    port = free_port()
    env = {
        **env_for_subprocess,
        # Nothing listens there: every connection is refused, as while Postgres restarts.
        "TOUCHLINE_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postgres",
        f"TOUCHLINE_{service.upper()}_PORT": str(port),
        "TOUCHLINE_NOTIFY_SMTP_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "touchline.shared.cli", service],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    answers: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            async def refused_readiness() -> bool:
                assert process.poll() is None, process.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
                try:
                    response = await client.get("/readyz")
                except httpx.TransportError:
                    return False
                answers.append(response.status_code)
                # Asked again and again while the start-up keeps retrying: never ready, never gone.
                return len(answers) >= 12

            await eventually(refused_readiness, what=f"{service} answering /readyz", timeout=90, interval=0.25)
            assert set(answers) == {503}
            assert (await client.get("/healthz")).status_code == 200
        assert process.poll() is None, process.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
