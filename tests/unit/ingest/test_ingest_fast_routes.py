"""The Segment POSTs skip FastAPI's stack but answer exactly as the routes do; a bug is a 500."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from touchline.ingest.api import IngestApp, IngestState, router
from touchline.ingest.auth import WriteKeys
from touchline.ingest.domain import Limits, TimePolicy
from touchline.ingest.handlers import Ports
from touchline.ingest.ratelimit import RateLimiter
from touchline.ingest.semantics import EventDoc

NOW = datetime(2027, 3, 1, tzinfo=UTC)


class Identities:
    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken

    async def accounts(self, keys: Sequence[str]) -> dict[str, str]:
        if self.broken:
            raise RuntimeError("a bug, not an outage")
        return {}


class Publisher:
    def __init__(self) -> None:
        self.events: list[EventDoc] = []

    async def publish(self, events: Sequence[EventDoc]) -> None:
        self.events.extend(events)


def app(*, broken: bool = False) -> tuple[IngestApp, Publisher]:
    publisher = Publisher()
    state = IngestState(
        keys=WriteKeys.parse("product:k"),
        limiter=RateLimiter(rate=1000, burst=1000),
        limits=Limits(),
        policy=TimePolicy(),
        retry_after=5,
        now=lambda: NOW,
        ports=Ports(identities=Identities(broken=broken), publisher=publisher),  # type: ignore[arg-type]
    )
    ingest = IngestApp()
    ingest.state.ingest = state
    ingest.include_router(router(lambda: state))
    return ingest, publisher


async def post(ingest: IngestApp, path: str, body: dict[str, object]) -> httpx.Response:
    transport = httpx.ASGITransport(app=ingest)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", auth=("k", "")) as client:
        return await client.post(path, json=body)


async def test_a_batch_posted_through_the_fast_path_is_published_and_answered_200() -> None:
    ingest, publisher = app()
    event = {"type": "track", "userId": "u", "event": "Signed In", "context": {"groupId": "acme"}, "messageId": "m1"}
    response = await post(ingest, "/v1/batch", {"batch": [event]})
    assert response.status_code == 200 and response.json() == {"success": True, "accepted": 1}
    assert [e["message_id"] for e in publisher.events] == ["m1"]


async def test_an_unexpected_error_is_a_500_and_nothing_is_published() -> None:
    ingest, publisher = app(broken=True)
    response = await post(ingest, "/v1/track", {"userId": "u", "event": "Signed In", "messageId": "m1"})
    assert response.status_code == 500 and response.json()["error"] == "internal"
    assert publisher.events == []


async def test_other_methods_and_paths_still_go_through_fastapi() -> None:
    ingest, _ = app()
    transport = httpx.ASGITransport(app=ingest)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/v1/batch")).status_code == 405
        assert (await client.get("/openapi.json")).json()["paths"]["/v1/batch"]["post"]
