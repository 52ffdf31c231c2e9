"""CORS on the real app: the in-app API answers the configured product origin only; preflights too."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import uvicorn
from notify_harness import INAPP_SECRET, PRODUCT_ORIGIN, Notify, eventually

from touchline.notify.domain.tokens import user_token
from touchline.shared.stack.layout import free_port

OTHER_ORIGIN = "https://evil.example.test"


def _auth(user: str) -> dict[str, str]:
    return {"X-Touchline-User": user, "X-Touchline-User-Token": user_token(INAPP_SECRET, user)}


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type, x-touchline-user, x-touchline-user-token",
    }


async def test_the_product_origin_may_read_the_users_messages(notify: Notify):
    response = await notify.client.get("/v1/inapp/messages", headers={**_auth("cors-user"), "Origin": PRODUCT_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PRODUCT_ORIGIN
    assert "Origin" in response.headers["vary"]


async def test_another_origin_gets_no_cors_allowance_so_its_page_cannot_read_the_answer(notify: Notify):
    response = await notify.client.get("/v1/inapp/messages", headers={**_auth("cors-user"), "Origin": OTHER_ORIGIN})
    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_from_the_product_origin_allows_the_signed_user_headers(notify: Notify):
    response = await notify.client.options("/v1/inapp/messages/m-1/events", headers=_preflight(PRODUCT_ORIGIN))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PRODUCT_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "x-touchline-user" in allowed and "x-touchline-user-token" in allowed


async def test_a_preflight_from_another_origin_is_refused(notify: Notify):
    response = await notify.client.options("/v1/inapp/messages/m-1/events", headers=_preflight(OTHER_ORIGIN))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_the_task_api_gives_no_cors_allowance_even_to_the_product_origin(notify: Notify):
    response = await notify.client.options("/v1/tasks", headers=_preflight(PRODUCT_ORIGIN, "GET"))
    assert "access-control-allow-origin" not in response.headers


async def test_the_live_stream_answers_the_product_origin_and_not_another(notify: Notify):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(notify.app, host="127.0.0.1", port=port, lifespan="off", log_config=None))
    task = asyncio.create_task(server.serve())
    user = f"user-{uuid.uuid4().hex[:8]}"
    params = {"user": user, "token": user_token(INAPP_SECRET, user)}
    seen: dict[str, str | None] = {}
    try:
        await eventually(lambda: server.started, what="http server up")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for origin in (PRODUCT_ORIGIN, OTHER_ORIGIN):
                async with client.stream("GET", "/v1/inapp/stream", params=params, headers={"Origin": origin}) as s:
                    assert s.status_code == 200
                    seen[origin] = s.headers.get("access-control-allow-origin")
    finally:
        server.should_exit = True
        await task
    assert seen == {PRODUCT_ORIGIN: PRODUCT_ORIGIN, OTHER_ORIGIN: None}
