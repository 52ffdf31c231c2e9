import asyncio
import hashlib
import hmac
import json

import httpx
import pytest
import uvicorn

from touchline.sim.client import Endpoints, SimulationError, StackClient, default_urls, user_token


def client_with(handler):
    return StackClient(Endpoints(), transport=httpx.MockTransport(handler), backoff_s=0.0)


async def test_a_batch_is_posted_with_the_write_key_as_basic_auth():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True})

    async with client_with(handler) as client:
        await client.send_batch([{"type": "track", "messageId": "m1"}])
    assert seen[0].url.path == "/v1/batch"
    assert seen[0].headers["authorization"] == httpx.BasicAuth("dev-write-key", "")._auth_header
    assert json.loads(seen[0].content) == {"batch": [{"type": "track", "messageId": "m1"}]}
    assert client.stats.events == 1


async def test_unavailable_and_rate_limited_batches_are_retried_with_the_same_body():
    bodies = []
    answers = iter([503, 429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(next(answers), headers={"Retry-After": "0"})

    async with client_with(handler) as client:
        await client.send_batch([{"messageId": "m1"}])
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert client.stats.retries == 2


async def test_a_refused_batch_stops_the_run_with_ingests_message():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"message": "batch[0].type: unknown"})

    async with client_with(handler) as client:
        with pytest.raises(SimulationError, match=r"400 .*batch\[0\]\.type"):
            await client.send_batch([{"messageId": "m1"}])


async def test_a_batch_failing_every_time_gives_up_after_the_attempts():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "0"})

    async with client_with(handler) as client:
        with pytest.raises(SimulationError, match="kept failing after 3 attempts"):
            await client.send_batch([{"messageId": "m1"}], attempts=3)


async def test_an_unreachable_ingest_is_named_in_the_error():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with client_with(handler) as client:
        with pytest.raises(SimulationError, match="ingest unreachable"):
            await client.send_batch([{"messageId": "m1"}], attempts=2)


async def test_a_tracking_link_that_fails_stops_the_run_after_retrying_server_errors():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(500 if len(calls) < 3 else 404)

    async with client_with(handler) as client:
        with pytest.raises(SimulationError, match="answered 404"):
            await client.hit("http://127.0.0.1:8004/t/o/x.gif")
    assert len(calls) == 3


async def test_a_click_redirect_counts_as_followed():
    async with client_with(lambda r: httpx.Response(302, headers={"Location": "https://help"})) as client:
        assert await client.hit("http://127.0.0.1:8004/t/c/x") == 302


async def test_in_app_calls_carry_the_user_and_its_signed_token():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"user_id": "u1", "messages": [{"id": "m1"}]})
        return httpx.Response(200, json={"ok": True})

    async with client_with(handler) as client:
        assert await client.inapp_messages("u1") == [{"id": "m1"}]
        await client.inapp_event("u1", "m1", "answered", {"survey": "nps", "score": 9})
    expected = hmac.new(b"dev-inapp-secret", b"u1", hashlib.sha256).hexdigest()
    assert all(r.headers["x-touchline-user-token"] == expected == user_token("dev-inapp-secret", "u1") for r in seen)
    assert json.loads(seen[1].content) == {"type": "answered", "answer": {"survey": "nps", "score": 9}}


async def test_an_in_app_refusal_is_reported():
    async with client_with(lambda r: httpx.Response(401, text="not signed")) as client:
        with pytest.raises(SimulationError, match="401"):
            await client.inapp_messages("u1")


class OneRequestPerConnection:
    """A real HTTP/1.1 server that answers the first request on a connection with keep-alive,
    then closes the connection when the next request arrives without answering it: what a
    client sees when it reuses a pooled connection just as uvicorn's keep-alive timeout fires."""

    def __init__(self) -> None:
        self.answered = 0
        self.dropped = 0
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _read_request(self, reader: asyncio.StreamReader) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._read_request(reader)
            body = b'{"messages": [{"id": "m1"}], "items": [], "ok": true}'
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: keep-alive\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            self.answered += 1
            await self._read_request(reader)
            self.dropped += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_idempotent_calls_survive_a_keep_alive_connection_the_server_closed():
    server = OneRequestPerConnection()
    async with server as url:
        endpoints = Endpoints(urls={s: url for s in ("ingest", "health", "touch", "notify")})
        async with StackClient(endpoints, backoff_s=0.0) as client:
            for _ in range(3):
                assert await client.inapp_messages("u1") == [{"id": "m1"}]
                await client.inapp_event("u1", "m1", "seen")
                assert await client.get_json("notify", "/v1/accounts/a1/timeline") is not None
                assert await client.hit(f"{url}/t/o/x.gif") == 200
                assert (await client.get("health", "/v1/accounts/a1")).status_code == 200
    assert server.answered == 15
    assert server.dropped >= 1 and client.stats.retries == server.dropped


async def test_a_server_that_keeps_dropping_connections_stops_the_run_naming_the_call():
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with StackClient(Endpoints(urls={"notify": url}), backoff_s=0.0) as client:
            with pytest.raises(SimulationError, match="notify in-app messages: unreachable after 5 attempts"):
                await client.inapp_messages("u1")
    finally:
        server.close()
        await server.wait_closed()


def test_the_pool_drops_idle_connections_before_uvicorns_keep_alive_timeout():
    uvicorn_default = uvicorn.Config(app=None).timeout_keep_alive
    client = StackClient(Endpoints())
    pool = client.http._transport._pool  # the one place httpx keeps the expiry it was given
    assert pool._keepalive_expiry is not None and pool._keepalive_expiry < uvicorn_default


def test_the_simulator_finds_services_the_stack_moved_off_their_default_ports():
    urls = default_urls({"TOUCHLINE_NOTIFY_PORT": "42004", "TOUCHLINE_INGEST_PORT": "not-a-port"})
    assert urls["notify"] == "http://127.0.0.1:42004"
    assert urls["ingest"] == "http://127.0.0.1:8001" and urls["health"] == "http://127.0.0.1:8002"
