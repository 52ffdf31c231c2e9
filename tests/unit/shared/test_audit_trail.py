"""The audit middleware: which requests it records, what an entry holds, and that a failed write
leaves the (committed) change's answer alone but is logged and counted."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Body, FastAPI, Request
from pydantic import SecretStr

from touchline.shared import audit, metrics
from touchline.shared.clock import SimulatedClock
from touchline.shared.runtime import require_token
from touchline.shared.settings import CommonSettings

READ, WRITE = "r" * 20, "w" * 20
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class FakeConn:
    def __init__(self, rows: list[dict[str, Any]], *, fail: bool) -> None:
        self.rows, self.fail = rows, fail

    async def execute(self, statement: Any, params: dict[str, Any]) -> None:
        if self.fail:
            raise OSError("database away")
        self.rows.append({"sql": str(statement), **params})


class FakeEngine:
    """In-memory stand-in for the engine: keeps the inserted rows, or fails like a database away."""

    def __init__(self, *, fail: bool = False) -> None:
        self.rows: list[dict[str, Any]] = []
        self.fail = fail

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[FakeConn]:
        yield FakeConn(self.rows, fail=self.fail)


class FakeRuntime:
    def __init__(self, engine: FakeEngine) -> None:
        clock = SimulatedClock()
        clock.set(NOW)
        self.engine, self.clock = engine, clock


def service(engine: FakeEngine) -> FastAPI:
    common = CommonSettings(env="test", api_tokens=SecretStr(f"viewer:read:{READ},crm:write:{WRITE}"))
    api = APIRouter(prefix="/v1", dependencies=[require_token(lambda: common)])

    @api.get("/accounts/{account_id}")
    async def read_account(account_id: str) -> dict[str, str]:
        return {"account_id": account_id}

    @api.post("/accounts/{account_id}/things")
    async def add_thing(account_id: str, request: Request, payload: Any = Body(None)) -> dict[str, Any]:  # noqa: B008
        audit.note(request, before={"things": 0}, after={"things": 1})
        return {"account_id": account_id, "things": 1}

    @api.post("/tasks/{task_id}/{action}")
    async def act(task_id: str, action: str) -> dict[str, Any]:
        return {"task_id": task_id, "account_id": "acc-9"}

    app = FastAPI()
    app.include_router(api)
    app.add_middleware(audit.AuditTrail, service="svc", get_runtime=lambda: FakeRuntime(engine))
    return app


async def call(app: FastAPI, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    headers |= kwargs.pop("headers", {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        return await client.request(method, path, headers=headers, **kwargs)


async def test_a_change_is_recorded_with_actor_route_body_status_and_before_after() -> None:
    engine = FakeEngine()
    app = service(engine)
    actor = {"x-touchline-actor": "aiko@example.com"}
    answer = await call(app, "POST", "/v1/accounts/acc-1/things", WRITE, json={"n": 1}, headers=actor)
    assert answer.status_code == 200 and answer.json() == {"account_id": "acc-1", "things": 1}
    [row] = engine.rows
    assert "INSERT INTO svc.audit_log" in row["sql"]
    assert (row["at"], row["actor"], row["token"], row["action"], row["method"]) == (
        NOW, "aiko@example.com", "crm", "svc.add_thing", "POST",
    )  # fmt: skip
    assert row["route"] == "/v1/accounts/{account_id}/things" and row["account_id"] == "acc-1"
    assert row["status"] == 200 and row["body"] == '{"n": 1}'
    assert row["before"] == '{"things": 0}' and row["after"] == '{"things": 1}'


async def test_the_account_comes_from_the_answer_when_the_path_has_none_and_the_action_names_the_verb() -> None:
    engine = FakeEngine()
    await call(service(engine), "POST", "/v1/tasks/t-1/complete", WRITE, json={"reason": "done"})
    [row] = engine.rows
    assert row["account_id"] == "acc-9" and row["action"] == "svc.act.complete" and row["actor"] == "crm"
    assert row["params"] == '{"task_id": "t-1", "action": "complete"}'


async def test_reads_and_refused_calls_leave_no_entry_and_a_refused_body_is_recorded_with_its_status() -> None:
    engine = FakeEngine()
    app = service(engine)
    assert (await call(app, "GET", "/v1/accounts/acc-1", READ)).status_code == 200
    assert (await call(app, "POST", "/v1/accounts/acc-1/things", READ)).status_code == 403
    assert (await call(app, "POST", "/v1/accounts/acc-1/things", None)).status_code == 401
    assert engine.rows == []
    assert (await call(app, "POST", "/v1/nowhere", WRITE)).status_code == 404  # no route: no token check
    assert engine.rows == []


async def test_a_big_body_is_kept_truncated() -> None:
    engine = FakeEngine()
    big = "x" * (audit.MAX_KEPT * 2)
    await call(service(engine), "POST", "/v1/accounts/acc-1/things", WRITE, content=big.encode())
    assert '"truncated": true' in engine.rows[0]["body"]
    assert len(engine.rows[0]["body"]) < audit.MAX_KEPT + 100


async def test_a_failed_audit_write_keeps_the_answer_and_is_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = metrics.AUDIT_FAILURES.labels("svc")._value.get()
    with caplog.at_level(logging.ERROR):
        answer = await call(service(FakeEngine(fail=True)), "POST", "/v1/accounts/acc-1/things", WRITE, json={})
    assert answer.status_code == 200 and answer.json()["things"] == 1
    assert "audit entry not written" in caplog.text
    assert metrics.AUDIT_FAILURES.labels("svc")._value.get() == before + 1
