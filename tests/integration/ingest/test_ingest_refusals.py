"""What ingest refuses, and that a refusal publishes nothing: auth, limits, content types, rate."""

from __future__ import annotations

import gzip
import uuid

import orjson
from ingest_harness import NO_AUTH, Ingest, events_for, ingest_settings, running

from touchline.shared.settings import CommonSettings


def track(account: str, **extra: object) -> dict[str, object]:
    return {"userId": "u", "event": "Login", "context": {"groupId": account}, **extra}


def acct() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}"


async def test_a_missing_write_key_is_401_and_nothing_is_published(ingest: Ingest) -> None:
    account = acct()
    response = await ingest.client.post("/v1/track", json=track(account), auth=NO_AUTH)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
    assert "missing write key" in response.json()["message"]
    assert await events_for(ingest.common, account) == []


async def test_an_unknown_write_key_is_401_without_echoing_it(ingest: Ingest) -> None:
    account = acct()
    response = await ingest.client.post(
        "/v1/batch", json={"batch": [{"type": "track", **track(account)}]}, auth=("guessed-key", "")
    )
    assert response.status_code == 401 and "guessed-key" not in response.text
    response = await ingest.client.post("/v1/track", json=track(account, writeKey="guessed-key"), auth=NO_AUTH)
    assert response.status_code == 401
    assert await events_for(ingest.common, account) == []


async def test_a_body_over_500_kb_is_413_naming_the_limit(ingest: Ingest) -> None:
    account = acct()
    body = {"batch": [{"type": "track", **track(account), "properties": {"x": "y" * 30_000}}] * 20}
    response = await ingest.client.post("/v1/batch", json=body)
    assert response.status_code == 413
    assert response.json()["errors"][0]["path"] == "body" and "limit 512000" in response.json()["message"]
    assert await events_for(ingest.common, account) == []


async def test_a_gzip_body_inflating_past_500_kb_is_413(ingest: Ingest) -> None:
    body = gzip.compress(orjson.dumps({"batch": [{"type": "track", **track(acct()), "pad": " " * 600_000}]}))
    response = await ingest.client.post("/v1/batch", content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413 and "decompressed body exceeds" in response.json()["message"]


async def test_an_event_over_32_kb_is_413_naming_the_event(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/track", json=track(acct(), properties={"x": "y" * 33_000}))
    assert response.status_code == 413
    assert response.json()["errors"] == [{"path": "$", "message": response.json()["errors"][0]["message"]}]
    assert "limit 32768" in response.json()["message"]


async def test_a_batch_over_2500_events_is_400_and_nothing_is_published(ingest: Ingest) -> None:
    account = acct()
    body = {"batch": [{"type": "track", "userId": "u", "event": "e", "context": {"groupId": account}}] * 2501}
    response = await ingest.client.post("/v1/batch", json=body)
    assert response.status_code == 400 and "2501 events, limit 2500" in response.json()["message"]
    assert await events_for(ingest.common, account) == []


async def test_a_batch_with_invalid_events_accepts_the_valid_ones_and_names_the_rest(ingest: Ingest) -> None:
    account = acct()
    body = {
        "context": {"groupId": account},
        "batch": [
            {"type": "track", "userId": "u", "event": "Kept", "messageId": "kept-1"},
            {"type": "track", "userId": "u"},
            {"type": "identify", "traits": {"email": "x@y.z"}},
            {"type": "group", "userId": "u", "groupId": account, "traits": {"renewal_date": "soon"}},
            {"type": "track", "userId": "u", "event": "Kept too", "messageId": "kept-2"},
        ],
    }
    response = await ingest.client.post("/v1/batch", json=body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["errors"][0]["path"]) for r in answer["rejected"]] == [
        (1, "batch[1].event"),
        (2, "batch[2].userId"),
        (3, "batch[3].traits.renewal_date"),
    ]
    assert [e.id for e in await events_for(ingest.common, account)] == ["kept-1", "kept-2"]


async def test_a_single_invalid_call_is_400_with_field_paths(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/group", json={"userId": "u", "traits": []})
    assert response.status_code == 400
    paths = [e["path"] for e in response.json()["rejected"][0]["errors"]]
    assert paths == ["$.groupId", "$.traits"]


async def test_a_wrong_content_type_is_415_saying_what_to_send(ingest: Ingest) -> None:
    response = await ingest.client.post(
        "/v1/track", content=b"userId=u", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415 and "application/json" in response.json()["message"]
    response = await ingest.client.post("/v1/track", content=b"{}", headers={"Content-Encoding": "br"})
    assert response.status_code == 415 and "gzip" in response.json()["message"]


async def test_broken_json_and_bad_gzip_are_400(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/track", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]
    response = await ingest.client.post("/v1/track", content=b"{}", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400


async def test_a_write_key_over_its_rate_gets_429_with_retry_after(common: CommonSettings) -> None:
    account = acct()
    settings = ingest_settings(rate_limit_events_per_second=1, rate_limit_burst=3)
    async with running(common, settings) as ingest:
        body = {"batch": [{"type": "track", **track(account)}] * 3}
        assert (await ingest.client.post("/v1/batch", json=body)).status_code == 200
        response = await ingest.client.post("/v1/track", json=track(account, messageId="over"))
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
        assert response.json()["error"] == "rate_limited"
    assert "over" not in {e.id for e in await events_for(common, account)}
