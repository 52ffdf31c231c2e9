"""Login throttling across console replicas: two console apps on the session's Postgres (built as
in production, counters in ``console.login_failures``) see each other's wrong passwords."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from touchline.console.adapters.postgres import PostgresThrottleStore
from touchline.console.auth import User, UserStore, hash_password
from touchline.console.main import build_app
from touchline.console.settings import ConsoleSettings
from touchline.console.throttle import Failures, LoginThrottle, ThrottlePolicy
from touchline.shared.db import make_engine
from touchline.shared.settings import CommonSettings

PASSWORD = "correct horse battery"
SLOW = ThrottlePolicy(base_delay_s=600.0)


def users(email: str) -> UserStore:
    store = UserStore({})
    store.put(User(email=email, name="CSM", password_hash=hash_password(PASSWORD)))
    return store


@asynccontextmanager
async def replicas(common: CommonSettings, email: str, count: int = 2) -> AsyncIterator[list[FastAPI]]:
    """``count`` console apps built without a backend or store: what `touchline console` runs."""
    apps = [build_app(common, ConsoleSettings(), users=users(email)) for _ in range(count)]
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            # A first delay of minutes: no request here can outlast it, however slow the machine.
            app.state.console.throttle.policy = SLOW
        yield apps


@asynccontextmanager
async def browser(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as client:
        yield client


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> int:
    form = await client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    response = await client.post("/login", data={"email": email, "password": password, "login_token": token.group(1)})
    return response.status_code


@pytest.fixture
def email() -> str:
    return f"csm-{uuid.uuid4().hex[:8]}@example.com"


async def test_wrong_passwords_on_one_replica_slow_the_guesser_on_the_other(common: CommonSettings, email: str) -> None:
    attacker = f"6.6.{uuid.uuid4().int % 250}.1"
    async with replicas(common, email) as (a, b):
        async with browser(a, attacker) as on_a, browser(b, attacker) as on_b:
            statuses = [await sign_in(on_a if i % 2 else on_b, email, "guess") for i in range(3)]
            assert statuses == [401, 401, 401]
            assert await sign_in(on_a, email, "guess") == 401  # the 4th failure starts the delay
            assert await sign_in(on_b, email) == 429
        async with browser(b, "10.0.0.9") as csm:
            assert await sign_in(csm, email) == 303


async def test_spraying_across_replicas_from_one_address_is_limited(common: CommonSettings, email: str) -> None:
    sprayer = f"7.7.{uuid.uuid4().int % 250}.1"
    async with replicas(common, email) as (a, b):
        async with browser(a, sprayer) as on_a, browser(b, sprayer) as on_b:
            statuses = [await sign_in(on_a if i % 2 else on_b, f"x{i}-{email}", "Summer2026!") for i in range(23)]
        assert statuses[:20] == [401] * 20 and 429 in statuses[20:]


async def test_a_parallel_burst_on_two_replicas_passes_only_the_free_attempts(common: CommonSettings) -> None:
    engines = [make_engine(common.database_url, pool_size=5) for _ in range(2)]
    throttles = [LoginThrottle(PostgresThrottleStore(engine), SLOW) for engine in engines]
    address = f"198.51.100.{uuid.uuid4().int % 250}"
    try:
        waits = await asyncio.gather(
            *(
                throttles[i % 2].begin(email=f"b{i}@example.com", address=address, known_device=False, now=1e9)
                for i in range(30)
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert waits.count(0) == SLOW.address_free + 1


async def test_the_postgres_counters_restart_when_forgotten_and_drop_idle_ones(common: CommonSettings) -> None:
    engine = make_engine(common.database_url, pool_size=1)
    store = PostgresThrottleStore(engine)
    key = ("account", f"{uuid.uuid4().hex}@example.com")
    other = ("address", f"192.0.2.{uuid.uuid4().int % 250}")
    try:
        assert await store.reserve([key, other], now=1000.0, forget_after_s=60) == {
            key: Failures(count=0, last_at=1000.0),
            other: Failures(count=0, last_at=1000.0),
        }
        await store.failed([key, other], now=1000.0, forget_after_s=60)
        assert await store.reserve([key], now=1010.0, forget_after_s=60) == {key: Failures(count=1, last_at=1000.0)}
        await store.release([key])
        assert await store.reserve([key], now=1100.0, forget_after_s=60) == {key: Failures(count=0, last_at=1100.0)}
        await store.failed([key], now=1100.0, forget_after_s=60)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT scope, key, failures FROM console.login_failures WHERE key IN (:a, :b)"),
                {"a": key[1], "b": other[1]},
            )
            assert [tuple(r) for r in rows] == [(*key, 1)]  # restarted; the idle one dropped
        await store.clear([key])
        assert await store.reserve([key], now=1100.0, forget_after_s=60) == {key: Failures(count=0, last_at=1100.0)}
    finally:
        await engine.dispose()
