"""Every endpoint publishes the expected CloudEvent keyed by the expected account."""

from __future__ import annotations

import gzip
import uuid

import orjson
from ingest_harness import BACKFILL_KEY, NO_AUTH, ROTATED_KEY, Ingest, events_for, headers_of
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from touchline.shared.messages import ProductEvent


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def test_track_is_published_keyed_by_context_group_id_as_a_cloudevent(ingest: Ingest) -> None:
    account, mid = uid("acct"), uid("msg")
    response = await ingest.client.post(
        "/v1/track",
        json={"userId": "u1", "event": "Signed In", "messageId": mid, "context": {"groupId": account}},
    )
    assert response.status_code == 200, response.text
    [env] = await events_for(ingest.common, account)
    assert headers_of(env) == {"id": mid, "source": "touchline/ingest/product", "type": "touchline.event.v1"}
    event = env.message
    assert isinstance(event, ProductEvent)
    assert (event.kind, event.semantic, event.user_id, event.account_id) == ("track", "login", "u1", account)


async def test_group_publishes_canonical_traits_keyed_by_group_id(ingest: Ingest) -> None:
    account = uid("acct")
    response = await ingest.client.post(
        "/v1/group",
        json={"userId": uid("u"), "groupId": account, "traits": {"name": "Acme", "MRR": 100, "seatsPurchased": 5}},
    )
    assert response.status_code == 200, response.text
    [env] = await events_for(ingest.common, account)
    assert env.message.traits == {"name": "Acme", "mrr": 100.0, "arr": 1200.0, "seats": 5}  # type: ignore[attr-defined]


async def test_identify_page_screen_and_alias_of_a_grouped_user_go_to_its_account(ingest: Ingest) -> None:
    account, user = uid("acct"), uid("u")
    assert (await ingest.client.post("/v1/group", json={"userId": user, "groupId": account})).status_code == 200
    calls = {
        "identify": {"userId": user, "traits": {"email": "Ann@Example.com", "role": "owner"}},
        "page": {"userId": user, "name": "Home"},
        "screen": {"userId": user, "name": "Settings"},
        "alias": {"userId": uid("new"), "previousId": user},
    }
    for kind, body in calls.items():
        response = await ingest.client.post(f"/v1/{kind}", json=body)
        assert response.status_code == 200, (kind, response.text)
    envelopes = await events_for(ingest.common, account)
    assert [e.message.kind for e in envelopes] == ["group", "identify", "page", "screen", "alias"]  # type: ignore[attr-defined]
    assert envelopes[1].message.traits == {"email": "ann@example.com", "role": "admin"}  # type: ignore[attr-defined]
    assert envelopes[2].message.properties == {"name": "Home"}  # type: ignore[attr-defined]


async def test_batch_and_import_publish_each_event_with_the_outer_context(ingest: Ingest) -> None:
    account = uid("acct")
    for path in ("/v1/batch", "/v1/import"):
        body = {
            "context": {"groupId": account, "library": {"name": "test"}},
            "batch": [
                {"type": "track", "userId": "u", "event": "Report Exported", "properties": {"feature": "reports"}},
                {"type": "page", "userId": "u", "name": "Dashboard"},
            ],
        }
        response = await ingest.client.post(path, json=body)
        assert response.status_code == 200, response.text
    envelopes = await events_for(ingest.common, account)
    assert len(envelopes) == 4
    assert all(e.message.context["library"] == {"name": "test"} for e in envelopes)  # type: ignore[attr-defined]
    assert envelopes[0].message.feature == "reports"  # type: ignore[attr-defined]


async def test_a_gzip_body_is_accepted(ingest: Ingest) -> None:
    account = uid("acct")
    body = gzip.compress(orjson.dumps({"userId": "u", "event": "Login", "context": {"groupId": account}}))
    response = await ingest.client.post(
        "/v1/track", content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert len(await events_for(ingest.common, account)) == 1


async def test_events_of_an_ungrouped_user_are_parked_then_released_in_order(ingest: Ingest) -> None:
    account, user = uid("acct"), uid("u")
    for name in ("First", "Second"):
        response = await ingest.client.post("/v1/track", json={"userId": user, "event": name, "messageId": uid(name)})
        assert response.status_code == 200
    assert await events_for(ingest.common, account) == []
    engine = create_async_engine(ingest.common.database_url)
    try:
        async with engine.connect() as conn:
            parked = await conn.scalar(
                text("SELECT count(*) FROM ingest.parked_events WHERE :k = ANY(user_keys)"), {"k": f"u:{user}"}
            )
        assert parked == 2
        response = await ingest.client.post("/v1/group", json={"userId": user, "groupId": account})
        assert response.status_code == 200
        envelopes = await events_for(ingest.common, account)
        assert [(e.message.kind, e.message.event) for e in envelopes] == [  # type: ignore[attr-defined]
            ("track", "First"),
            ("track", "Second"),
            ("group", None),
        ]
        async with engine.connect() as conn:
            left = await conn.scalar(
                text("SELECT count(*) FROM ingest.parked_events WHERE :k = ANY(user_keys)"), {"k": f"u:{user}"}
            )
        assert left == 0
    finally:
        await engine.dispose()


async def test_a_retried_call_keeps_its_message_id_for_downstream_dedup(ingest: Ingest) -> None:
    account, mid = uid("acct"), uid("msg")
    body = {"userId": "u", "event": "Login", "messageId": mid, "context": {"groupId": account}}
    for _ in range(2):
        assert (await ingest.client.post("/v1/track", json=body)).status_code == 200
    assert {e.id for e in await events_for(ingest.common, account)} == {mid}


async def test_each_source_and_rotated_key_is_recognised(ingest: Ingest) -> None:
    account = uid("acct")
    body = {"userId": "u", "event": "Login", "context": {"groupId": account}}
    await ingest.client.post("/v1/track", json={**body, "messageId": "a"}, auth=(BACKFILL_KEY, ""))
    await ingest.client.post("/v1/track", json={**body, "messageId": "b", "writeKey": ROTATED_KEY}, auth=NO_AUTH)
    sources = [e.source for e in await events_for(ingest.common, account)]
    assert sources == ["touchline/ingest/backfill", "touchline/ingest/product"]


async def test_openapi_docs_and_metrics_are_served(ingest: Ingest) -> None:
    assert (await ingest.client.get("/docs")).status_code == 200
    assert "/v1/batch" in (await ingest.client.get("/openapi.json")).json()["paths"]
    metrics = (await ingest.client.get("/metrics")).text
    assert "touchline_ingest_accepted_total" in metrics and "touchline_ingest_producer_seconds" in metrics
    ready = await ingest.client.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_events_near_the_32_kb_limit_and_many_accounts_in_one_batch_are_published(ingest: Ingest) -> None:
    accounts = [uid("acct") for _ in range(12)]
    batch = [
        {"type": "track", "userId": "u", "event": "Big", "context": {"groupId": a}, "properties": {"x": "y" * 30_000}}
        for a in accounts[:2]
    ] + [
        {"type": "track", "userId": "u", "event": f"E{i}", "context": {"groupId": a}}
        for i, a in enumerate(accounts)
        for _ in range(40)
    ]
    response = await ingest.client.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200, response.text
    for i, account in enumerate(accounts):
        envelopes = await events_for(ingest.common, account)
        assert len(envelopes) == 40 + (1 if i < 2 else 0)
