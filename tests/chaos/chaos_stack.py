"""A whole Touchline stack the chaos suite may hurt: its own Postgres, its services as processes.

The four services run as real processes (``touchline <service>``) against a Postgres server of
the suite's own (tests/own_postgres.py: stopped, restarted and refused at will) and a broker
(the session's, or one of the suite's own when the broker leg runs), with an SMTP sink in this
process that can be switched off and on again. Nothing here touches the shared servers.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from touchline.shared.db import make_engine
from touchline.shared.stack.layout import free_port, tail
from touchline.shared.stack.smtp_sink import MailSink
from touchline.sim.client import SERVICES, Endpoints

READY_TIMEOUT_S = 120.0


@dataclass
class ChaosStack:
    env: dict[str, str]
    database_url: str
    topic_prefix: str
    bootstrap: str
    base: Path
    ports: dict[str, int]
    sink_port: int
    sink: MailSink | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    engine: AsyncEngine | None = None

    @property
    def mail_dir(self) -> Path:
        return self.base / "mail"

    @property
    def endpoints(self) -> Endpoints:
        urls = {s: f"http://127.0.0.1:{p}" for s, p in self.ports.items()}
        return Endpoints(urls=urls, api_token=self.env.get("TOUCHLINE_API_TOKEN", "dev-api-token"))

    def log(self, service: str) -> Path:
        return self.base / f"{service}.log"

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(f"--- {s}:\n{tail(self.log(s), lines)}" for s in SERVICES)

    # --- the SMTP sink -------------------------------------------------------------------

    def start_sink(self) -> None:
        self.sink = MailSink(self.mail_dir, port=self.sink_port).start()

    def stop_sink(self) -> None:
        if self.sink is not None:
            self.sink.stop()
            self.sink = None

    def mails(self) -> list[email.message.Message]:
        """Every mail the sink stored (across its restarts), from its folder."""
        index = self.mail_dir / "index.jsonl"
        if not index.exists():
            return []
        entries = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [
            email.message_from_bytes((self.mail_dir / e["file"]).read_bytes(), policy=email.policy.default)
            for e in entries
        ]

    def duplicates(self) -> int:
        """Copies the sink received again under a Message-ID it already had (and dropped)."""
        path = self.mail_dir / "duplicates.jsonl"
        return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0

    # --- the services --------------------------------------------------------------------

    def start(self, service: str) -> None:
        with open(self.log(service), "ab") as log:
            self.processes[service] = subprocess.Popen(
                [sys.executable, "-m", "touchline.shared.cli", service],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=os.getcwd(),
            )

    def kill(self, service: str) -> None:
        """kill -9: no shutdown hook runs, a batch or a mail may be half done."""
        process = self.processes[service]
        process.kill()
        process.wait()

    def exited(self) -> list[str]:
        return [s for s, p in self.processes.items() if p.poll() is not None]

    async def wait_ready(self, services: Iterator[str] | tuple[str, ...] = SERVICES) -> None:
        waiting = set(services)
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=3.0) as client:
            while waiting:
                if dead := self.exited():
                    raise AssertionError(f"{dead} exited\n{self.log_tails()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{sorted(waiting)} not ready\n{self.log_tails()}")
                for service in list(waiting):
                    try:
                        response = await client.get(f"http://127.0.0.1:{self.ports[service]}/readyz")
                    except httpx.TransportError:
                        continue
                    if response.status_code == 200:
                        waiting.discard(service)
                await asyncio.sleep(0.2)

    async def wait_not_ready(self, services: tuple[str, ...] = SERVICES) -> dict[str, list[str]]:
        """Until every one of ``services`` answers /readyz with 503 (alive, saying what it waits
        for); returns their problems. A service that exits fails."""
        problems: dict[str, list[str]] = {}
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=5.0) as client:
            while len(problems) < len(services):
                if dead := self.exited():
                    raise AssertionError(f"{dead} exited\n{self.log_tails()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"still ready while a dependency is away: {set(services) - set(problems)}")
                for service in services:
                    try:
                        response = await client.get(f"http://127.0.0.1:{self.ports[service]}/readyz")
                    except httpx.TransportError:
                        continue
                    if response.status_code == 503:
                        problems[service] = list(response.json().get("problems", []))
                await asyncio.sleep(0.2)
        return problems

    async def restart(self, service: str) -> None:
        self.start(service)
        await self.wait_ready((service,))

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # --- what is still in flight ------------------------------------------------------------

    async def mail_settled(self) -> bool:
        """No mail waiting to be sent or being sent, no outcome waiting to be published."""
        if self.engine is None:
            self.engine = make_engine(self.database_url, pool_size=1)
        try:
            async with self.engine.connect() as conn:
                busy = await conn.scalar(
                    text("SELECT count(*) FROM notify.deliveries WHERE state IN ('pending', 'sending')")
                )
                unpublished = await conn.scalar(text("SELECT count(*) FROM notify.outbox WHERE published_at IS NULL"))
        except Exception:  # Postgres is away during a leg: not settled yet
            return False
        return busy == 0 and unpublished == 0

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()


def stack_env(
    base_env: dict[str, str],
    *,
    database_url: str,
    topic_prefix: str,
    bootstrap: str,
    ports: dict[str, int],
    sink_port: int,
) -> dict[str, str]:
    return {
        **base_env,
        "TOUCHLINE_ENV": "test",
        "TOUCHLINE_CLOCK": "simulated",
        "TOUCHLINE_DATABASE_URL": database_url,
        "TOUCHLINE_TOPIC_PREFIX": topic_prefix,
        "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOUCHLINE_NOTIFY_SMTP_HOST": "127.0.0.1",
        "TOUCHLINE_NOTIFY_SMTP_PORT": str(sink_port),
        "TOUCHLINE_NOTIFY_PUBLIC_URL": f"http://127.0.0.1:{ports['notify']}",
        # Retries paced for a test: an SMTP outage of seconds is retried within seconds.
        "TOUCHLINE_NOTIFY_RETRY_BASE_SECONDS": "0.5",
        "TOUCHLINE_NOTIFY_RETRY_MAX_SECONDS": "2",
        "TOUCHLINE_NOTIFY_SENDING_LEASE_SECONDS": "5",
        "TOUCHLINE_NOTIFY_POLL_SECONDS": "0.2",
        **{f"TOUCHLINE_{s.upper()}_PORT": str(p) for s, p in ports.items()},
    }


def free_ports() -> tuple[dict[str, int], int]:
    return {s: free_port() for s in SERVICES}, free_port()
