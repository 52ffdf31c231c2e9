"""The official Segment and RudderStack Python SDKs deliver track/identify/group to a running ingest."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from ingest_harness import WRITE_KEY, WRITE_KEYS, events_for
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from touchline.shared.settings import CommonSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
async def server(env_for_subprocess: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """``touchline ingest`` as a real process (uvicorn) on a free port."""
    port = free_port()
    env = {**env_for_subprocess, "TOUCHLINE_INGEST_PORT": str(port), "TOUCHLINE_INGEST_WRITE_KEYS": WRITE_KEYS}
    log = tmp_path_factory.mktemp("ingest") / "ingest.log"
    # A file, not a pipe: nobody reads a pipe while the tests run, and a full pipe blocks the server.
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "touchline.shared.cli", "ingest"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(400):
                if process.poll() is not None:
                    raise AssertionError(f"ingest exited: {log.read_text()[-2000:]}")
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("ingest never became ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def deliver(client: Any, calls: Callable[[Any], None]) -> list[Exception]:
    errors: list[Exception] = []
    client.on_error = lambda error, _batch: errors.append(error)
    calls(client)
    client.flush()
    return errors


def three_calls(account: str, user: str) -> Callable[[Any], None]:
    def run(client: Any) -> None:
        client.group(user_id=user, group_id=account, traits={"name": "Acme", "plan": "pro"})
        client.identify(user_id=user, traits={"email": f"{user}@example.com", "role": "admin"})
        client.track(user_id=user, event="Signed In", properties={"method": "sso"})

    return run


@pytest.mark.parametrize("gzip", [False, True])
async def test_segment_python_delivers_track_identify_group(server: str, common: CommonSettings, gzip: bool) -> None:
    account, user = f"acct-{uuid.uuid4().hex[:12]}", f"u-{uuid.uuid4().hex[:8]}"
    client = SegmentClient(write_key=WRITE_KEY, host=server, sync_mode=True, gzip=gzip, max_retries=2)
    errors = await asyncio.to_thread(deliver, client, three_calls(account, user))
    assert errors == []
    envelopes = await events_for(common, account)
    assert [e.message.kind for e in envelopes] == ["group", "identify", "track"]  # type: ignore[attr-defined]
    assert envelopes[1].message.traits["email"] == f"{user}@example.com"  # type: ignore[attr-defined]
    assert envelopes[2].message.semantic == "login"  # type: ignore[attr-defined]


async def test_rudder_sdk_python_delivers_track_identify_group(server: str, common: CommonSettings) -> None:
    account, user = f"acct-{uuid.uuid4().hex[:12]}", f"u-{uuid.uuid4().hex[:8]}"
    client = RudderClient(write_key=WRITE_KEY, host=server, sync_mode=True, gzip=True, max_retries=2)
    errors = await asyncio.to_thread(deliver, client, three_calls(account, user))
    assert errors == []
    envelopes = await events_for(common, account)
    assert [e.message.kind for e in envelopes] == ["group", "identify", "track"]  # type: ignore[attr-defined]
    assert envelopes[1].message.traits == {"email": f"{user}@example.com", "role": "admin"}  # type: ignore[attr-defined]
