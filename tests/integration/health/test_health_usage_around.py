"""Usage before vs after a milestone on the real Postgres: score rows written as health stores them
(measures as [name, value, score, weight, contribution]), read through GET /v1/usage/around."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from touchline.health.main import build_app
from touchline.health.settings import HealthSettings
from touchline.shared.db import make_engine
from touchline.shared.settings import CommonSettings

T = datetime(2093, 4, 17, tzinfo=UTC)  # a time no other test writes history around
D = timedelta(days=1)
P = f"use-{uuid.uuid4().hex[:8]}"
A, B, C = f"{P}-a", f"{P}-b", f"{P}-c"


def _usage(value: Any) -> list[list[Any]]:
    return [["login_days", 4, 26.7, 0.1, 2.7], ["active_users_ratio", value, 50.0, 0.15, 7.5]]


ROWS = [
    (A, T - 31 * D, _usage(5.0)),  # before the window: left out
    (A, T - 5 * D + timedelta(hours=8), _usage(0.2)),  # same day, earlier: the 20:00 value counts
    (A, T - 5 * D + timedelta(hours=20), _usage(0.4)),
    (A, T - 2 * D, _usage(0.6)),
    (A, T + D, _usage(0.9)),
    (A, T + 30 * D, _usage(5.0)),  # the window after ends before it: left out
    (B, T - 10 * D, _usage(0.1)),
    (C, T + 2 * D, [["login_days", 4, 26.7, 0.1, 2.7]]),  # no usage measure on its card
    (C, T + 3 * D, _usage(None)),  # no seats known: no value
]


async def _store(common: CommonSettings) -> None:
    engine = make_engine(common.database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    """INSERT INTO health.score_history (account_id, computed_at, score, computed_score, band,
                    scorecard, overridden, measures, cause, recorded_at)
                    VALUES (:a, :at, 50, 50, 'caution', 'default', false, CAST(:m AS json), 'test', :at)"""
                ),
                [{"a": a, "at": at, "m": json.dumps(m)} for a, at, m in ROWS],
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def client(common: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    await _store(common)
    app: FastAPI = build_app(common, HealthSettings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer dev-api-token"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
            yield c


async def test_product_wide_usage_before_and_after_averages_accounts_over_their_latest_daily_values(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/v1/usage/around", params={"at": T.isoformat(), "days": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["measure"] == "active_users_ratio" and body["account_id"] is None and body["days"] == 30
    # A: (0.4 + 0.6) / 2 = 0.5, B: 0.1 -> 0.3 over 3 account-days; after: A's 0.9 alone.
    assert body["before"] == {"mean": pytest.approx(0.3), "accounts": 2, "rows": 3}
    assert body["after"] == {"mean": pytest.approx(0.9), "accounts": 1, "rows": 1}
    assert body["change"] == pytest.approx(0.6)
    # The same instant written in another zone gives the same answer.
    tokyo = await client.get("/v1/usage/around", params={"at": "2093-04-17T09:00:00+09:00"})
    assert tokyo.json()["before"] == body["before"] and tokyo.json()["after"] == body["after"]


async def test_one_account_and_a_side_without_data(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/usage/around", params={"at": T.isoformat(), "account_id": B})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["before"] == {"mean": pytest.approx(0.1), "accounts": 1, "rows": 1}
    assert body["after"] == {"mean": None, "accounts": 0, "rows": 0}
    assert body["change"] is None
    narrow = (await client.get("/v1/usage/around", params={"at": T.isoformat(), "days": 3, "account_id": A})).json()
    assert (narrow["before"]["mean"], narrow["after"]["mean"]) == (pytest.approx(0.6), pytest.approx(0.9))
    nobody = (await client.get("/v1/usage/around", params={"at": T.isoformat(), "account_id": C})).json()
    assert (nobody["before"]["mean"], nobody["after"]["mean"], nobody["change"]) == (None, None, None)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"at": "2093-04-17T00:00:00"}, "at"),  # no zone
        ({"at": "yesterday"}, "at"),
        ({"at": "1900-01-01T00:00:00Z"}, "at"),
        ({}, "at"),
        ({"at": "2093-04-17T00:00:00Z", "days": 0}, "days"),
        ({"at": "2093-04-17T00:00:00Z", "days": 181}, "days"),
        ({"at": "2093-04-17T00:00:00Z", "account_id": ""}, "account_id"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    r = await client.get("/v1/usage/around", params=params)
    assert r.status_code == 422, r.text
    assert ["query", field] in [e["loc"] for e in r.json()["detail"]]


async def test_the_ends_of_the_accepted_calendar_answer(client: httpx.AsyncClient) -> None:
    for at in ("1970-01-01T00:00:00Z", "2200-01-01T00:00:00Z", "2200-01-01T05:00:00+09:00"):
        r = await client.get("/v1/usage/around", params={"at": at, "days": 180})
        assert r.status_code == 200, r.text
    assert (
        await client.get("/v1/usage/around", params={"at": T.isoformat()}, headers={"Authorization": ""})
    ).status_code == 401
