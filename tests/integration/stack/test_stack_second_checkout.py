"""A second checkout's `make up` on a machine where another stack holds the default ports: it
chooses free ones, writes them to its env file, and every service answers there."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from touchline.shared.stack.cli import DEFAULT_PORTS, SINK
from touchline.shared.stack.layout import run_sync
from touchline.shared.stack.testing import Infra, delete_topics, drop_database, fresh_database

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def holding(ports: list[int]) -> Iterator[None]:
    """Listen on each port nobody else holds yet: what the first checkout's stack does."""
    sockets = []
    try:
        for port in ports:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()  # someone holds it already: taken either way
                continue
            sock.listen()
            sockets.append(sock)
        yield
    finally:
        for sock in sockets:
            sock.close()


def stack(home: Path, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "touchline.shared.stack", command, "--home", str(home)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


def exported(env_file: Path) -> dict[str, str]:
    lines = [line.removeprefix("export ") for line in env_file.read_text().splitlines() if line.strip()]
    return dict(line.split("=", 1) for line in lines)


def answers(url: str, *, attempts: int = 100) -> int:
    """Status of GET url once it answers (bounded polling: services take a moment to bind)."""
    for _ in range(attempts):
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(url, timeout=2.0).status_code
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_a_second_stack_moves_to_free_ports_and_its_services_answer_there(infra: Infra, tmp_path: Path) -> None:
    database = run_sync(fresh_database(infra.database_url))
    prefix = f"p{uuid.uuid4().hex[:8]}."
    env = {
        **os.environ,
        "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "TOUCHLINE_DATABASE_URL": database,
        "TOUCHLINE_TOPIC_PREFIX": prefix,
    }
    home = tmp_path / "second"
    try:
        with holding(list(DEFAULT_PORTS.values())):
            result = stack(home, "up", env)
            assert result.returncode == 0, result.stdout + result.stderr
            written = exported(home / "env")
            assert written["TOUCHLINE_NOTIFY_SMTP_PORT"] != str(DEFAULT_PORTS[SINK])
            with socket.create_connection(("127.0.0.1", int(written["TOUCHLINE_NOTIFY_SMTP_PORT"]))) as smtp:
                assert smtp.recv(3) == b"220"
            for name in ("ingest", "health", "touch", "notify", "console"):
                port = int(written[f"TOUCHLINE_{name.upper()}_PORT"])
                assert port != DEFAULT_PORTS[name]
                assert answers(f"http://127.0.0.1:{port}/healthz") == 200, name
            assert written["TOUCHLINE_CONSOLE_NOTIFY_URL"] == f"http://127.0.0.1:{written['TOUCHLINE_NOTIFY_PORT']}"
            again = stack(home, "up", env)  # a second `make up` keeps the ports its pieces run on
            assert again.returncode == 0, again.stdout + again.stderr
            assert exported(home / "env") == written
    finally:
        stopped = stack(home, "down", env)
        run_sync(drop_database(database))
        run_sync(delete_topics(infra.bootstrap_servers, prefix))
    assert stopped.returncode == 0, stopped.stderr
