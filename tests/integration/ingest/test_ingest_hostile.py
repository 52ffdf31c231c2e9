"""Hostile input through the real app (issue 13): a 400 naming the field of each refused event,
never a 500 or a 503, and the valid siblings of a batch published."""

from __future__ import annotations

import gzip
import uuid

import orjson
from ingest_harness import Ingest, events_for


def acct() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}"


async def test_a_batch_of_hostile_events_refuses_each_by_field_and_publishes_the_valid_one(ingest: Ingest) -> None:
    account = acct()
    deep = "[" * 600 + "1" + "]" * 600
    unknown = f"nobody-{uuid.uuid4().hex[:8]}"  # would be parked in Postgres, which refuses NUL
    events = [
        f'{{"type": "group", "userId": "u", "groupId": "{account}", "traits": {{"seats": {2**63}}}}}',
        f'{{"type": "group", "userId": "u", "groupId": "{account}", "traits": {{"arr": {2**64 - 1}}}}}',
        f'{{"type": "track", "userId": "u", "event": "e", "context": {{"groupId": "{account}"}},'
        ' "timestamp": "9999-12-31T00:00:00Z", "sentAt": "2000-01-01T00:00:00Z"}',
        f'{{"type": "track", "userId": "u", "event": "e", "context": {{"groupId": "{account}"}},'
        f' "properties": {{"x": {deep}}}}}',
        f'{{"type": "track", "userId": "{unknown}\\u0000", "event": "e"}}',
        f'{{"type": "group", "userId": "u", "groupId": "{account}", "traits": {{"name": "A\\u0000"}}}}',
        f'{{"type": "group", "userId": "u", "groupId": "{account}/eu"}}',
        f'{{"type": "track", "userId": "u", "event": "Kept", "messageId": "kept-{account}",'
        f' "context": {{"groupId": "{account}"}}}}',
    ]
    body = '{"batch": [' + ", ".join(events) + "]}"
    response = await ingest.client.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    paths = {r["index"]: r["errors"][0]["path"] for r in answer["rejected"]}
    assert paths[0] == "batch[0].traits.seats" and paths[1] == "batch[1].traits.arr"
    assert paths[2] == "batch[2].timestamp" and paths[3].startswith("batch[3].properties.x[0]")
    assert paths[4] == "batch[4].userId" and paths[5] == "batch[5].traits.name"
    assert paths[6] == "batch[6].groupId"
    assert [e.id for e in await events_for(ingest.common, account)] == [f"kept-{account}"]


async def test_a_nul_in_an_unknown_users_id_is_a_400_not_a_503(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/track", json={"userId": f"x\x00{uuid.uuid4().hex}", "event": "e"})
    assert response.status_code == 400 and "retry-after" not in response.headers
    assert response.json()["rejected"][0]["errors"][0]["path"] == "$.userId"


async def test_gzip_with_trailing_garbage_is_a_400_and_nothing_is_published(ingest: Ingest) -> None:
    account = acct()
    body = gzip.compress(orjson.dumps({"userId": "u", "event": "e", "context": {"groupId": account}})) + b"\0junk"
    response = await ingest.client.post("/v1/track", content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400 and "trailing garbage" in response.json()["message"]
    assert await events_for(ingest.common, account) == []


async def test_an_account_id_with_a_slash_is_refused_so_nothing_unreadable_is_accepted(ingest: Ingest) -> None:
    account = acct()
    response = await ingest.client.post("/v1/group", json={"userId": "u", "groupId": f"{account}/x"})
    assert response.status_code == 400
    assert response.json()["rejected"][0]["errors"][0]["path"] == "$.groupId"
    assert await events_for(ingest.common, f"{account}/x") == []


async def test_a_parked_event_with_a_huge_number_is_released_when_its_user_is_grouped(ingest: Ingest) -> None:
    account, visitor = acct(), f"anon-{uuid.uuid4().hex[:8]}"
    body = f'{{"anonymousId": "{visitor}", "event": "Viewed", "properties": {{"n": -1.5e133, "m": 1e300}}}}'
    parked = await ingest.client.post("/v1/track", content=body, headers={"Content-Type": "application/json"})
    assert parked.status_code == 200, parked.text
    grouped = await ingest.client.post("/v1/group", json={"anonymousId": visitor, "groupId": account})
    assert grouped.status_code == 200, grouped.text
    [released, group] = await events_for(ingest.common, account)
    assert released.message.properties == {"n": -1.5e133, "m": 1e300}  # type: ignore[attr-defined]
    assert group.message.kind == "group"  # type: ignore[attr-defined]
