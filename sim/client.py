"""The simulator's HTTP side: ingest's Segment API, notify's links and in-app API, the clock.

Only public interfaces: what a product (ingest, in-app widget), a mail reader (tracking links)
and an operator (clock topic, GET /clock, service APIs with the bearer token) can use.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

SERVICES = ("ingest", "health", "touch", "notify")
# uvicorn closes an idle keep-alive connection after 5 s; a pooled connection reused just as the
# server closes it fails with ReadError / RemoteProtocolError. Dropping ours well before theirs
# makes that rare, and retrying idempotent calls makes it harmless.
KEEPALIVE_EXPIRY_S = 2.0
IDEMPOTENT_ATTEMPTS = 5
MAX_BACKOFF_S = 5.0
DEFAULT_URLS = {
    "ingest": "http://127.0.0.1:8001",
    "health": "http://127.0.0.1:8002",
    "touch": "http://127.0.0.1:8003",
    "notify": "http://127.0.0.1:8004",
}


def default_urls(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The services of the local stack: DEFAULT_URLS, except where its env file (``make demo``
    sources it) names another port because a second checkout's stack holds the default."""
    env = os.environ if environ is None else environ
    urls = dict(DEFAULT_URLS)
    for service in SERVICES:
        port = env.get(f"TOUCHLINE_{service.upper()}_PORT", "").strip()
        if port.isdigit():
            urls[service] = f"http://127.0.0.1:{port}"
    return urls


class SimulationError(RuntimeError):
    """The stack did not do what the simulator needs (a refusal, or a bounded wait ran out)."""


@dataclass(frozen=True)
class Endpoints:
    urls: dict[str, str] = field(default_factory=default_urls)
    write_key: str = "dev-write-key"
    api_token: str = "dev-api-token"
    inapp_secret: str = "dev-inapp-secret"

    def url(self, service: str) -> str:
        return self.urls[service].rstrip("/")


def user_token(secret: str, user_id: str) -> str:
    """The in-app widget's user token: hex HMAC-SHA256(secret, user_id), as the product signs it."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass
class SendStats:
    events: int = 0
    batches: int = 0
    retries: int = 0


class StackClient:
    """One httpx client for every call the simulator makes; retries only what is safe to retry."""

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        timeout: float = 30.0,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_s: float = 0.2,
    ) -> None:
        self.endpoints = endpoints
        self.http = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, keepalive_expiry=KEEPALIVE_EXPIRY_S),
            follow_redirects=False,
            transport=transport,
        )
        self.backoff_s = backoff_s
        self.stats = SendStats()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> StackClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.endpoints.api_token}"}

    async def send_batch(self, calls: Sequence[dict[str, Any]], *, attempts: int = 8) -> None:
        """POST /v1/batch; 429/5xx and connection errors are retried with the same messageIds
        (ingest drops the copies), a 4xx is a bug in what we send and stops the run."""
        url = f"{self.endpoints.url('ingest')}/v1/batch"
        body = {"batch": list(calls)}
        delay = self.backoff_s
        for attempt in range(1, attempts + 1):
            try:
                response = await self.http.post(url, json=body, auth=(self.endpoints.write_key, ""))
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise SimulationError(f"ingest unreachable at {url}: {exc!r}") from exc
                await self._back_off(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            if response.status_code < 300:
                self.stats.events += len(calls)
                self.stats.batches += 1
                return
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == attempts:
                    break
                wait = _retry_after(response, default=delay)
                await self._back_off(wait)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            raise SimulationError(f"ingest refused a batch: {response.status_code} {response.text[:500]}")
        raise SimulationError(f"ingest kept failing after {attempts} attempts: {response.status_code}")

    async def _back_off(self, seconds: float) -> None:
        self.stats.retries += 1
        await asyncio.sleep(seconds)

    async def idempotent(
        self, method: str, url: str, *, what: str, attempts: int = IDEMPOTENT_ATTEMPTS, **kwargs: Any
    ) -> httpx.Response:
        """A call that is safe to repeat (a GET, or a POST the server deduplicates by the id it
        carries): a connection the server closed, a timeout or a 5xx is tried again on a
        fresh connection with bounded exponential backoff; the last answer is returned."""
        delay = self.backoff_s
        for attempt in range(1, attempts + 1):
            try:
                response = await self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise SimulationError(f"{what}: unreachable after {attempts} attempts: {exc!r}") from exc
            else:
                if response.status_code < 500 or attempt == attempts:
                    return response
            await self._back_off(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
        raise AssertionError("unreachable")

    async def hit(self, url: str, *, attempts: int = IDEMPOTENT_ATTEMPTS) -> int:
        """Follow a tracking link, as a mail client would (GET, no redirect followed). A lost
        reaction would change what the playbooks do, so failures retry, then stop the run."""
        response = await self.idempotent("GET", url, what=f"tracking link {url}", attempts=attempts)
        if response.status_code >= 400:
            raise SimulationError(f"tracking link answered {response.status_code}: {url}")
        return response.status_code

    def _user_headers(self, user_id: str) -> dict[str, str]:
        return {
            "X-Touchline-User": user_id,
            "X-Touchline-User-Token": user_token(self.endpoints.inapp_secret, user_id),
        }

    async def inapp_messages(self, user_id: str) -> list[dict[str, Any]]:
        """What the widget would show ``user_id`` now (notify marks first showings)."""
        response = await self.idempotent(
            "GET",
            f"{self.endpoints.url('notify')}/v1/inapp/messages",
            what="notify in-app messages",
            headers=self._user_headers(user_id),
        )
        _expect(response, "notify in-app messages")
        return list(response.json()["messages"])

    async def inapp_event(
        self, user_id: str, message_id: str, event: str, answer: dict[str, Any] | None = None
    ) -> None:
        payload: dict[str, Any] = {"type": event}
        if answer is not None:
            payload["answer"] = answer
        # Keyed by the message id in the path: notify records each event type once per message.
        response = await self.idempotent(
            "POST",
            f"{self.endpoints.url('notify')}/v1/inapp/messages/{message_id}/events",
            what=f"notify in-app {event}",
            json=payload,
            headers=self._user_headers(user_id),
        )
        _expect(response, f"notify in-app {event}")

    async def timeline(self, account_id: str) -> list[dict[str, Any]]:
        """notify's account timeline, newest first: items with ``channel`` email (template,
        address, delivery id), in_app or task."""
        body = await self.get_json("notify", f"/v1/accounts/{account_id}/timeline", limit=2000)
        return list(body["items"])

    async def get(self, service: str, path: str, **params: Any) -> httpx.Response:
        """GET a service API path with the bearer token (retried as ``idempotent``); any status."""
        url = f"{self.endpoints.url(service)}{path}"
        return await self.idempotent("GET", url, what=f"{service} {path}", params=params, headers=self._bearer())

    async def get_json(self, service: str, path: str, **params: Any) -> Any:
        """GET a service API path with the bearer token; a 4xx/5xx stops the run."""
        response = await self.get(service, path, **params)
        _expect(response, f"{service} {path}")
        return response.json()

    async def clocks(self) -> dict[str, str | None]:
        """What GET /clock says on every service (None where it does not answer)."""
        answers = await self._ops_on_every_service("/clock")
        return {s: None if body is None else str(body["now"]) for s, body in answers.items()}

    async def pending(self) -> dict[str, dict[str, int] | None]:
        """What GET /pending says on every service: work due and not carried out yet, per kind
        (None where the service does not answer, or answers 503)."""
        answers = await self._ops_on_every_service("/pending")
        return {
            s: None if body is None else {str(kind): int(n) for kind, n in body["pending"].items()}
            for s, body in answers.items()
        }

    async def _ops_on_every_service(self, path: str) -> dict[str, dict[str, Any] | None]:
        """GET an ops route (no token) on every service at once: its JSON where it answered 200."""

        async def one(service: str) -> dict[str, Any] | None:
            try:
                response = await self.http.get(f"{self.endpoints.url(service)}{path}", timeout=5.0)
            except httpx.TransportError:
                return None
            return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

        answers = await asyncio.gather(*(one(s) for s in SERVICES))
        return dict(zip(SERVICES, answers, strict=True))

    async def wait_ready(self, *, timeout: float = 60.0) -> None:
        """Every service answers /readyz with 200, or SimulationError naming the ones that do not."""
        deadline = time.monotonic() + timeout
        problems: dict[str, str] = {}
        while time.monotonic() < deadline:
            problems = {}
            for service in SERVICES:
                try:
                    response = await self.http.get(f"{self.endpoints.url(service)}/readyz", timeout=5.0)
                    if response.status_code != 200:
                        problems[service] = response.text[:200]
                except httpx.TransportError as exc:
                    problems[service] = f"unreachable ({exc.__class__.__name__})"
            if not problems:
                return
            await asyncio.sleep(0.3)
        raise SimulationError(f"services not ready after {timeout:.0f}s: {problems}")


def _retry_after(response: httpx.Response, *, default: float) -> float:
    try:
        return min(float(response.headers.get("retry-after", default)), 10.0)
    except ValueError:
        return default


def _expect(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise SimulationError(f"{what}: {response.status_code} {response.text[:300]}")


def same_instant(text: str | None, when: datetime) -> bool:
    if text is None:
        return False
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) == when
    except ValueError:
        return False
