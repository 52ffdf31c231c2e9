"""The whole stack as real processes, on the session's broker and Postgres server.

``e2e_stack`` starts ingest, health, touch and notify as subprocesses on free ports, with an
in-process SMTP sink storing mail in a temporary folder (the simulator reads it like the dev
inbox), waits until every service is ready, and stops them when the module's tests are done.
The stack gets a database and topic prefix of its own: its consumer groups then never share
partitions with the in-process services of integration tests running later in the session,
and its drain barrier only sees its own groups. A service that dies or never gets ready
fails the fixture with the tail of its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import free_port, run_sync, tail
from touchline.shared.stack.smtp_sink import MailSink
from touchline.shared.stack.testing import discard, isolated
from touchline.sim.client import SERVICES, Endpoints

READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 10.0


@dataclass
class E2EStack:
    common: CommonSettings
    endpoints: Endpoints
    mail_dir: Path
    sink: MailSink
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(f"--- {name} ({path}):\n{tail(path, lines)}" for name, path in self.logs.items())

    def diagnose(self, lines: int = 60) -> str:
        """Each live service logs its asyncio task stacks (SIGUSR1), then the log tails: what a
        stuck consumer waits on, for a failure that only shows up now and then."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGUSR1)
        time.sleep(1.5)
        return self.log_tails(lines)

    def dead(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _isolated(common: CommonSettings) -> CommonSettings:
    """The session's settings with a fresh, migrated database and fresh topics."""
    database_url, prefix = await isolated(common.kafka_bootstrap_servers, common.database_url, tag="e")
    return common.model_copy(update={"database_url": database_url, "topic_prefix": prefix})


@pytest.fixture(scope="module")
def e2e_stack(
    common: CommonSettings, env_for_subprocess: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2EStack]:
    common = run_sync(_isolated(common))
    base = tmp_path_factory.mktemp("e2e")
    mail_dir = base / "mail"
    ports = {service: free_port() for service in SERVICES}
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    sink = MailSink(mail_dir).start()
    stack = E2EStack(
        common=common,
        endpoints=Endpoints(urls=urls, api_token=common.api_token.get_secret_value()),
        mail_dir=mail_dir,
        sink=sink,
        logs={service: base / f"{service}.log" for service in SERVICES},
    )
    env = {
        **env_for_subprocess,
        "TOUCHLINE_DATABASE_URL": common.database_url,
        "TOUCHLINE_TOPIC_PREFIX": common.topic_prefix,
        "TOUCHLINE_NOTIFY_SMTP_HOST": sink.host,
        "TOUCHLINE_NOTIFY_SMTP_PORT": str(sink.port),
        "TOUCHLINE_NOTIFY_PUBLIC_URL": urls["notify"],
        **{f"TOUCHLINE_{s.upper()}_PORT": str(p) for s, p in ports.items()},
    }
    try:
        for service in SERVICES:
            with open(stack.logs[service], "wb") as log:
                stack.processes[service] = subprocess.Popen(
                    [sys.executable, "-m", "touchline.shared.cli", service],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=os.getcwd(),
                )
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = set(SERVICES)
        while waiting:
            if stack.dead():
                pytest.fail(f"e2e stack: {stack.dead()} exited at start-up\n{stack.log_tails()}")
            if time.monotonic() > deadline:
                pytest.fail(f"e2e stack: {sorted(waiting)} not ready after {READY_TIMEOUT_S:.0f}s\n{stack.log_tails()}")
            waiting = {s for s in waiting if not _ready(urls[s])}
            time.sleep(0.2)
        yield stack
    finally:
        _stop(stack.processes)
        sink.stop()
        run_sync(
            discard(
                database_url=common.database_url,
                bootstrap_servers=common.kafka_bootstrap_servers,
                topic_prefix=common.topic_prefix,
            )
        )
