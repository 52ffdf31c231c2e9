"""Postgres LISTEN on a connection of its own (outside the pool: a pooled connection is shared)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

APPLICATION_NAME = "touchline-notify-listen"


def listen_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://...) as the DSN asyncpg itself takes."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgListenSession:
    def __init__(self, conn: asyncpg.Connection, *, timeout: float) -> None:
        self.conn = conn
        self.timeout = timeout
        self.lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: self.lost.set())

    async def ping(self) -> None:
        await self.conn.execute("SELECT 1", timeout=self.timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.conn.close(timeout=self.timeout)
        if not self.conn.is_closed():
            self.conn.terminate()


class PgListener:
    def __init__(self, dsn: str, *, channel: str, timeout: float = 10.0) -> None:
        self.dsn = dsn
        self.channel = channel
        self.timeout = timeout

    async def open(self, on_payload: Callable[[str], None]) -> PgListenSession:
        # Named, so operators (and tests) can tell it in pg_stat_activity.
        settings = {"application_name": APPLICATION_NAME}
        conn = await asyncpg.connect(self.dsn, timeout=self.timeout, server_settings=settings)
        session = PgListenSession(conn, timeout=self.timeout)

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            on_payload(payload)

        try:
            await conn.add_listener(self.channel, heard)
        except BaseException:
            await session.close()
            raise
        return session
