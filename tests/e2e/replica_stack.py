"""The whole stack as real processes, with any number of replicas per service.

Each service's first replica serves the HTTP API the simulator talks to; further replicas join
the same consumer groups (and run the same timer and delivery loops) on ports of their own,
and can be added or stopped while a replay runs: the rebalances happen while batches, timers
and deliveries are in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import free_port, tail
from touchline.shared.stack.smtp_sink import MailSink
from touchline.sim.client import SERVICES, Endpoints

READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 15.0


@dataclass
class Replica:
    service: str
    index: int
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def name(self) -> str:
        return f"{self.service}#{self.index}"


@dataclass
class ReplicaStack:
    common: CommonSettings
    base_env: dict[str, str]
    directory: Path
    sink: MailSink
    replicas: list[Replica] = field(default_factory=list)
    stopped: list[Replica] = field(default_factory=list)

    @classmethod
    def start(cls, common: CommonSettings, env: dict[str, str], directory: Path) -> ReplicaStack:
        sink = MailSink(directory / "mail").start()
        ports = {service: free_port() for service in SERVICES}
        base_env = {
            **env,
            "TOUCHLINE_DATABASE_URL": common.database_url,
            "TOUCHLINE_TOPIC_PREFIX": common.topic_prefix,
            "TOUCHLINE_NOTIFY_SMTP_HOST": sink.host,
            "TOUCHLINE_NOTIFY_SMTP_PORT": str(sink.port),
            "TOUCHLINE_NOTIFY_PUBLIC_URL": f"http://127.0.0.1:{ports['notify']}",
        }
        stack = cls(common=common, base_env=base_env, directory=directory, sink=sink)
        for service in SERVICES:
            stack.add(service, port=ports[service])
        stack.wait_ready()
        return stack

    @property
    def mail_dir(self) -> Path:
        return self.directory / "mail"

    @property
    def endpoints(self) -> Endpoints:
        first = {r.service: f"http://127.0.0.1:{r.port}" for r in reversed(self.replicas)}
        return Endpoints(urls=first, api_token=self.common.api_token.get_secret_value())

    def add(self, service: str, *, port: int | None = None) -> Replica:
        """Start one more replica of ``service``; it joins the consumer groups when it is up."""
        index = 1 + sum(1 for r in self.replicas + self.stopped if r.service == service)
        port = port or free_port()
        log = self.directory / f"{service}-{index}.log"
        env = {**self.base_env, f"TOUCHLINE_{service.upper()}_PORT": str(port)}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "touchline.shared.cli", service],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=os.getcwd(),
            )
        replica = Replica(service=service, index=index, port=port, log=log, process=process)
        self.replicas.append(replica)
        return replica

    def remove(self, service: str) -> Replica:
        """Stop the newest replica of ``service`` the way an orchestrator scales down (SIGTERM)."""
        replica = next(r for r in reversed(self.replicas) if r.service == service and r.index > 1)
        replica.process.send_signal(signal.SIGTERM)
        self.replicas.remove(replica)
        self.stopped.append(replica)
        return replica

    def count(self, service: str) -> int:
        return sum(1 for r in self.replicas if r.service == service)

    def dead(self) -> list[str]:
        return [r.name for r in self.replicas if r.process.poll() is not None]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = list(self.replicas)
        while waiting:
            if self.dead():
                raise RuntimeError(f"{self.dead()} exited\n{self.log_tails()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{[r.name for r in waiting]} not ready\n{self.log_tails()}")
            waiting = [r for r in waiting if not _ready(r.port)]
            time.sleep(0.2)

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(f"--- {r.name}:\n{tail(r.log, lines)}" for r in self.replicas + self.stopped)

    def stop(self) -> None:
        everyone = self.replicas + self.stopped
        for r in everyone:
            if r.process.poll() is None:
                r.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for r in everyone:
            try:
                r.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                r.process.kill()
                r.process.wait()
        self.sink.stop()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
