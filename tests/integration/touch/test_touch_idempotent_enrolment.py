"""Enrolment by hand with an Idempotency-Key, on the session's Kafka and Postgres: retries enrol once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text
from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import eventually, new_account, what  # type: ignore[import-not-found]


async def known(touch: Touch, account: str) -> bool:
    return (await touch.client.get(f"/v1/accounts/{account}")).status_code == 200


async def tech_account(touch: Touch) -> str:
    account = touch.account(new_account())
    t0 = await touch.sim.fresh_start()
    await touch.feed.group(account, t0, arr=900, lifecycle_stage="adoption")
    await eventually(lambda: known(touch, account), what="profile")
    return account


async def enrol(touch: Touch, account: str, playbook: str, key: str | None, by: str = "kei") -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await touch.client.post(
        f"/v1/accounts/{account}/enrolments", json={"playbook": playbook, "by": by}, headers=headers
    )


@asynccontextmanager
async def commits_fail_for(touch: Touch, account: str) -> AsyncIterator[None]:
    """Postgres refuses, at COMMIT, any transaction that created an enrolment for this account:
    the failure lands after the API published its commands, where a crash or a lost connection would."""
    name = f"fail_commit_{uuid.uuid4().hex[:8]}"
    async with touch.runtime.engine.begin() as conn:
        await conn.execute(
            text(
                f"""CREATE FUNCTION touch.{name}() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$"""
            )
        )
        await conn.execute(
            text(
                f"""CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON touch.enrolments
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                WHEN (NEW.account_id = '{account}') EXECUTE FUNCTION touch.{name}()"""
            )
        )
    try:
        yield
    finally:
        async with touch.runtime.engine.begin() as conn:
            await conn.execute(text(f"DROP TRIGGER {name} ON touch.enrolments"))
            await conn.execute(text(f"DROP FUNCTION touch.{name}()"))


async def test_a_retry_with_the_same_key_gets_the_first_enrolment_and_nothing_is_sent_twice(touch: Touch) -> None:
    account = await tech_account(touch)
    key = str(uuid.uuid4())
    first = await enrol(touch, account, "reengagement", key)
    assert first.status_code == 201 and first.json()["status"] == "completed"  # news mail + popup, done at once
    again = await enrol(touch, account, "reengagement", key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # Commands of one account share a partition: once a later enrolment's mail has arrived, a
    # replayed copy published before it would have arrived too.
    assert (await enrol(touch, account, "risk", str(uuid.uuid4()))).status_code == 201
    await touch.commands.wait(account, 1, playbook="risk")
    sent = touch.commands.of(account, "reengagement")
    assert [what(c) for c in sent] == ["email:reengagement.news", "in_app:reengagement.news"]
    runs = (await touch.client.get(f"/v1/accounts/{account}/enrolments")).json()
    assert sorted(r["playbook"] for r in runs) == ["reengagement", "risk"]


async def test_a_key_reused_for_another_request_is_refused_naming_the_header(touch: Touch) -> None:
    account, other = await tech_account(touch), await tech_account(touch)
    key = str(uuid.uuid4())
    assert (await enrol(touch, account, "risk", key)).status_code == 201
    for response in (
        await enrol(touch, account, "advocacy", key),
        await enrol(touch, other, "risk", key),
        await enrol(touch, account, "risk", key, by="mia"),
    ):
        assert response.status_code == 422
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["header", "Idempotency-Key"]
        assert problem["msg"].startswith(f"Idempotency-Key: '{key}' was already used for a different")
    assert (await touch.client.get(f"/v1/accounts/{other}/enrolments")).json() == []
    assert [r["playbook"] for r in (await touch.client.get(f"/v1/accounts/{account}/enrolments")).json()] == ["risk"]


async def test_a_malformed_key_is_refused_before_anything_happens(touch: Touch) -> None:
    account = await tech_account(touch)
    for bad in ("x" * 256, "   "):
        response = await enrol(touch, account, "risk", bad)
        assert response.status_code == 400 and response.json()["detail"].startswith("Idempotency-Key: must be")
    assert (await touch.client.get(f"/v1/accounts/{account}/enrolments")).json() == []


async def test_a_refused_request_leaves_its_key_free_for_a_later_retry(touch: Touch) -> None:
    account = await tech_account(touch)
    running = await enrol(touch, account, "risk", None)
    key = str(uuid.uuid4())
    refused = await enrol(touch, account, "risk", key)
    assert refused.status_code == 409 and "already running" in refused.json()["detail"]
    assert (await touch.client.post(f"/v1/enrolments/{running.json()['id']}/cancel")).status_code == 200
    retried = await enrol(touch, account, "risk", key)
    assert retried.status_code == 201 and retried.json()["id"] != running.json()["id"]


async def test_the_same_key_sent_for_two_accounts_at_once_enrols_only_one(touch: Touch) -> None:
    one, two = await tech_account(touch), await tech_account(touch)
    key = str(uuid.uuid4())
    answers = await asyncio.gather(enrol(touch, one, "risk", key), enrol(touch, two, "risk", key))
    assert sorted(r.status_code for r in answers) == [201, 422]
    runs = [len((await touch.client.get(f"/v1/accounts/{a}/enrolments")).json()) for a in (one, two)]
    assert sorted(runs) == [0, 1]


async def test_a_retry_after_a_commit_failed_past_the_publish_resends_the_same_command_ids(touch: Touch) -> None:
    account = await tech_account(touch)
    key = str(uuid.uuid4())
    transport = httpx.ASGITransport(app=touch.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=touch.client.headers) as client:
        async with commits_fail_for(touch, account):
            failed = await client.post(
                f"/v1/accounts/{account}/enrolments",
                json={"playbook": "reengagement"},
                headers={"Idempotency-Key": key},
            )
    assert failed.status_code == 500
    assert (await touch.client.get(f"/v1/accounts/{account}/enrolments")).json() == []
    orphans = await touch.commands.wait(account, 2, playbook="reengagement")  # published, enrolment rolled back

    retried = await enrol(touch, account, "reengagement", key, by="csm")
    assert retried.status_code == 201
    assert {c.enrolment_id for c in orphans} == {retried.json()["id"]}

    async def both_copies() -> bool:
        return len(touch.commands.of(account, "reengagement")) == 4

    await eventually(both_copies, what="the retry's commands")
    sent = touch.commands.of(account, "reengagement")
    assert [c.command_id for c in sent[2:]] == [c.command_id for c in orphans], "notify drops these copies by id"
