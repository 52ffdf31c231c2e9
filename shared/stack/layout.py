"""Where the local stack keeps its state, and small helpers shared by its modules."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import os
import socket
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Set either one and the stack uses that Kafka / Postgres instead of starting its own.
KAFKA_ENV = "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS"
DATABASE_ENV = "TOUCHLINE_DATABASE_URL"

# The one place that knows the repository's shape: configs live beside the Kafka pom.
DEPLOY_KAFKA_DIR = Path(__file__).resolve().parents[2] / "deploy" / "local" / "kafka"


def default_home() -> Path:
    """``TOUCHLINE_HOME``, else ``<cwd>/.touchline`` (gitignored)."""
    return Path(os.environ.get("TOUCHLINE_HOME") or Path.cwd() / ".touchline").resolve()


@dataclass(frozen=True)
class Layout:
    home: Path

    @classmethod
    def at(cls, home: Path | str | None = None) -> Layout:
        layout = cls(Path(home).resolve() if home else default_home())
        for folder in (layout.kafka_dir, layout.mail_dir, layout.logs_dir, layout.pids_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return layout

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def mail_dir(self) -> Path:
        return self.home / "mail"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.home / "pids"

    @property
    def env_file(self) -> Path:
        return self.home / "env"

    @property
    def ports_file(self) -> Path:
        return self.home / "ports.json"

    def log(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.pids_dir / f"{name}.pid"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise start-ups so that two test sessions never start two brokers."""
        with open(self.home / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, even when the caller already runs an event loop
    (a pytest-asyncio fixture): a private thread gets its own loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
