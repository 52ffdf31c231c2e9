"""Touch integration fixtures: the service in-process against the session's Kafka and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from touch_support import Commands, Feed, SimTime  # type: ignore[import-not-found]

from touchline.shared.db import make_engine
from touchline.shared.runtime import Runtime
from touchline.shared.settings import CommonSettings
from touchline.touch.main import build_app
from touchline.touch.settings import TouchSettings

# Far from the other services' test times, so the shared clock only moves forward for touch.
FLOOR = datetime(2036, 1, 1, 9, tzinfo=UTC)


@dataclass
class Touch:
    app: FastAPI
    client: httpx.AsyncClient
    feed: Feed
    commands: Commands
    sim: SimTime
    accounts: list[str] = field(default_factory=list)

    @property
    def runtime(self) -> Runtime:
        return self.app.state.touch["runtime"]  # type: ignore[no-any-return]

    def account(self, account_id: str) -> str:
        self.accounts.append(account_id)
        return account_id


@pytest.fixture(scope="module")
async def touch(common: CommonSettings) -> AsyncIterator[Touch]:
    async with touch_service(common, TouchSettings(timer_poll_seconds=0.2)) as t:
        yield t


@asynccontextmanager
async def touch_service(common: CommonSettings, settings: TouchSettings) -> AsyncIterator[Touch]:
    """Touch with these settings, running in-process until the block ends."""
    app = build_app(common, settings)
    feed, commands = Feed(common), Commands(common)
    await feed.start()
    await commands.start()
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.touch["runtime"]
        await feed.include_backlog()  # earlier tests' events: touch reads them first
        await feed.consumed(runtime.engine, timeout=300)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer dev-api-token"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
            t = Touch(
                app, client, feed, commands, SimTime(common, runtime.clock, FLOOR, feed=feed, engine=runtime.engine)
            )
            yield t
    await commands.stop()
    await feed.stop()
    # Leave no timers of these stories behind for later tests that move the clock further
    # (once touch stopped: deleting under its running loops could deadlock with them).
    engine = make_engine(common.database_url)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM touch.timers WHERE account_id = ANY(:a)"), {"a": t.accounts})
    await engine.dispose()
