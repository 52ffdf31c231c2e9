"""Login throttling across console replicas: two console apps on the session's Postgres (built as
in production, counters in ``console.login_failures``) see each other's wrong passwords."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from touchline.console.adapters.postgres import PostgresThrottleStore
from touchline.console.auth import User, UserStore, hash_password
from touchline.console.main import build_app
from touchline.console.settings import ConsoleSettings
from touchline.console.throttle import Failures, ThrottlePolicy
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


async def test_the_postgres_counters_restart_when_forgotten_and_clear_on_success(common: CommonSettings) -> None:
    engine = make_engine(common.database_url, pool_size=1)
    store = PostgresThrottleStore(engine)
    key = ("account", f"{uuid.uuid4().hex}@example.com")
    other = ("address", f"192.0.2.{uuid.uuid4().int % 250}")
    try:
        await store.failed([key, other], now=1000.0, forget_after_s=60)
        await store.failed([key], now=1010.0, forget_after_s=60)
        assert await store.read([key, other]) == {
            key: Failures(count=2, last_at=1010.0),
            other: Failures(count=1, last_at=1000.0),
        }
        await store.failed([key], now=1100.0, forget_after_s=60)
        found = await store.read([key, other])
        assert found == {key: Failures(count=1, last_at=1100.0)}  # restarted; the idle one dropped
        await store.clear([key])
        assert await store.read([key]) == {}
    finally:
        await engine.dispose()
