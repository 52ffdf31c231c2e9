"""The health service in-process on the real Kafka and Postgres: events -> scores, duplicates,
decay under the simulated clock, overrides and the read API, the trust report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner
from fastapi import FastAPI
from health_support import (  # type: ignore[import-not-found]
    account_row,
    busy_history,
    consumed_past,
    eventually,
    history_rows,
    new_account,
    produce,
    scored_messages,
    set_clock,
)

from touchline.health.main import build_app, trust_rows
from touchline.health.settings import HealthSettings
from touchline.shared import topics
from touchline.shared.messages import Outcome, ProductEvent
from touchline.shared.settings import CommonSettings

T0 = datetime(2031, 5, 10, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
async def health(common: CommonSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build_app(common, HealthSettings(decay_interval_s=1.0))
    async with app.router.lifespan_context(app):
        await set_clock(common, app.state.runtime.clock, T0)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer dev-api-token"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
            yield app, client


async def _scored(app: FastAPI, account: str, **where: Any) -> dict[str, Any]:
    engine = app.state.runtime.engine

    async def probe() -> dict[str, Any] | None:
        row = await account_row(engine, account)
        return row if row and all(row.get(k) == v for k, v in where.items()) else None

    return await eventually(probe, what=f"{account} scored with {where}")


async def test_events_become_scores_with_history_and_a_published_score_event(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    app, client = health
    account = new_account()
    ends = await produce(common, topics.EVENTS, busy_history(account, until=T0))
    await consumed_past(app.state.runtime.engine, ends)
    row = await _scored(app, account, as_of=T0)
    assert row["band"] == "good" and row["score"] >= 85
    view = (await client.get(f"/v1/accounts/{account}")).json()
    measures = {m["measure"]: m for m in view["measures"]}
    assert measures["active_users_ratio"]["value"] == 1.0 and measures["nps"]["missing"]
    assert measures["active_users_ratio"]["group"] == "deployment" and measures["active_users_ratio"]["band"] == "good"
    assert any("NPS" in line and "no data" in line for line in view["explanation"])
    history = await history_rows(app.state.runtime.engine, account)
    assert history and history[-1]["score"] == row["score"]
    published = await eventually(lambda: scored_messages(common, account), what="a HealthScored")
    assert published[0].account_id == account and published[0].cause == "event"
    assert published[-1].days_since_login == 0


async def test_the_same_batch_delivered_twice_changes_nothing(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    app, _ = health
    engine = app.state.runtime.engine
    account = new_account()
    batch = busy_history(account, until=T0, days=5)
    await consumed_past(engine, await produce(common, topics.EVENTS, batch))
    before = (await account_row(engine, account), len(await history_rows(engine, account)))
    await consumed_past(engine, await produce(common, topics.EVENTS, batch))
    after = (await account_row(engine, account), len(await history_rows(engine, account)))
    assert after == before
    assert sum(n for _, n in before[0]["state"]["usage"]) == 5 * 7  # type: ignore[index]


async def test_twenty_days_without_logins_lowers_engagement_and_changes_the_band(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    app, client = health
    account = new_account()
    await consumed_past(app.state.runtime.engine, await produce(common, topics.EVENTS, busy_history(account, until=T0)))
    await _scored(app, account, as_of=T0)
    before = (await client.get(f"/v1/accounts/{account}")).json()
    later = T0 + timedelta(days=20)
    try:
        await set_clock(common, app.state.runtime.clock, later)
        await _scored(app, account, as_of=later)
        after = (await client.get(f"/v1/accounts/{account}")).json()
    finally:
        await set_clock(common, app.state.runtime.clock, T0)
    engagement = {m["measure"]: m for m in after["measures"] if m["group"] == "engagement"}
    old = {m["measure"]: m for m in before["measures"] if m["group"] == "engagement"}
    assert engagement["days_since_login"]["value"] == 20
    assert sum(m["contribution"] for m in engagement.values()) < sum(m["contribution"] for m in old.values()) - 10
    assert before["band"] == "good" and after["band"] != "good"
    decays = [m for m in await scored_messages(common, account) if m.cause == "decay"]
    assert decays and decays[-1].band == after["band"] and decays[-1].days_since_login == 20


async def test_csm_override_survives_new_events_shows_in_reads_and_can_be_cleared(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    app, client = health
    account = new_account()
    await consumed_past(app.state.runtime.engine, await produce(common, topics.EVENTS, busy_history(account, until=T0)))
    await _scored(app, account, as_of=T0)
    body = {"kind": "band", "band": "caution", "reason": "champion left", "expires_in_days": 10, "set_by": "csm@x"}
    r = await client.put(f"/v1/accounts/{account}/overrides", json=body)
    assert r.status_code == 200 and r.json()["band"] == "caution" and r.json()["overridden"]
    more = [busy_history(account, until=T0, days=1)[1].model_copy(update={"message_id": f"{account}-more"})]
    await consumed_past(app.state.runtime.engine, await produce(common, topics.EVENTS, more))
    view = (await client.get(f"/v1/accounts/{account}")).json()
    assert view["band"] == "caution" and view["overridden"] and view["overrides"][0]["reason"] == "champion left"
    assert view["explanation"][0].startswith("override: band set to caution")
    listed = (await client.get("/v1/accounts", params={"band": "caution", "sort": "-score"})).json()["accounts"]
    assert account in [a["account_id"] for a in listed]
    r = await client.delete(f"/v1/accounts/{account}/overrides/band")
    assert r.status_code == 200 and r.json()["band"] == "good" and not r.json()["overridden"]
    causes = [m.cause for m in await scored_messages(common, account)]
    assert causes.count("override") == 2


async def test_bad_override_requests_and_unknown_accounts_get_clear_errors(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    app, client = health
    account = new_account()
    await consumed_past(
        app.state.runtime.engine, await produce(common, topics.EVENTS, busy_history(account, until=T0, days=2))
    )
    await _scored(app, account, as_of=T0)
    r = await client.put(
        f"/v1/accounts/{account}/overrides",
        json={"kind": "measure", "measure": "nope", "score": 5, "reason": "r", "expires_in_days": 1},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "measure"]
    naive = (T0 + timedelta(days=3)).replace(tzinfo=None).isoformat()
    r = await client.put(
        f"/v1/accounts/{account}/overrides", json={"kind": "score", "score": 5, "reason": "r", "expires_at": naive}
    )
    assert r.status_code == 200 and r.json()["overrides"][0]["expires_at"].endswith("+00:00")
    r = await client.put(f"/v1/accounts/{account}/overrides", json={"kind": "score", "score": 5, "reason": "r"})
    assert r.status_code == 422 and "expires" in r.text
    r = await client.put(
        "/v1/accounts/unknown-acct/overrides", json={"kind": "score", "score": 5, "reason": "r", "expires_in_days": 1}
    )
    assert r.status_code == 404
    assert (await client.get("/v1/accounts/unknown-acct")).status_code == 404
    assert (await client.get("/v1/accounts", params={"sort": "colour"})).status_code == 422
    assert (await client.get("/v1/trust", params={"horizons": "a,b"})).status_code == 422
    assert (await client.get("/v1/accounts", headers={"Authorization": "Bearer wrong"})).status_code == 401


async def test_history_and_trust_report_from_cancellations_and_renewals(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    app, client = health
    healthy, unhealthy = new_account(), new_account()
    start = T0 - timedelta(days=60)
    events = busy_history(healthy, until=start, days=20)
    events.append(
        ProductEvent(
            message_id=f"{unhealthy}-g",
            account_id=unhealthy,
            kind="group",
            traits={"seats": 50, "business_shrinking": True},
            timestamp=start,
            received_at=start,
        )
    )
    outcomes = [
        Outcome(
            outcome_id=f"{unhealthy}-nps",
            account_id=unhealthy,
            kind="email.answered",
            answer={"survey": "nps", "score": 2},
            occurred_at=start,
        )
    ]
    ends = await produce(common, topics.EVENTS, events) | await produce(common, topics.OUTCOMES, outcomes)
    await consumed_past(app.state.runtime.engine, ends)
    # The outcomes come later, so the scores of 60 days before them are already in the history.
    ends = await produce(
        common,
        topics.EVENTS,
        [
            ProductEvent(
                message_id=f"{a}-{sem}", account_id=a, kind="track", semantic=sem, timestamp=T0, received_at=T0
            )  # type: ignore[arg-type]
            for a, sem in ((healthy, "renewed"), (unhealthy, "cancelled"))
        ],
    )
    await consumed_past(app.state.runtime.engine, ends)
    await _scored(app, unhealthy, as_of=T0)
    hist = (await client.get(f"/v1/accounts/{healthy}/history")).json()["history"]
    assert len(hist) >= 2 and hist[0]["computed_at"] >= hist[-1]["computed_at"]
    report = (await client.get("/v1/trust", params={"horizons": "30,60"})).json()
    h60 = next(h for h in report["horizons"] if h["days"] == 60)
    assert h60["churned"] >= 1 and h60["retained"] >= 1 and h60["auc"] is not None


async def test_trust_cli_reads_the_same_report(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    rows = await trust_rows(common, (60,))
    assert rows[0]["days"] == 60 and rows[0]["outcomes"] >= 2


async def test_the_two_consumers_split_the_partitions_and_both_score(
    health: tuple[FastAPI, httpx.AsyncClient], common: CommonSettings
) -> None:
    app, _ = health
    runners = app.state.runners
    assert len(runners) == 2  # TOUCHLINE_HEALTH_CONSUMERS' default
    events_topic = topics.name(topics.EVENTS, common.topic_prefix)

    def events_partitions(runner: Any) -> set[int]:
        return {tp.partition for tp in runner.state.assigned if tp.topic == events_topic}

    async def both_assigned() -> bool:
        return all(events_partitions(r) for r in runners)

    await eventually(both_assigned, what="both consumers hold events partitions")
    first, second = (events_partitions(r) for r in runners)
    assert not first & second and len(first | second) == topics.EVENTS.partitions
    # One account on every partition (the producer's default partitioner): each consumer scores its share.
    partitions = list(range(topics.EVENTS.partitions))
    by_partition: dict[int, str] = {}
    while len(by_partition) < len(partitions):
        account = new_account()
        by_partition.setdefault(DefaultPartitioner()(account.encode(), partitions, partitions), account)
    accounts = list(by_partition.values())
    batches_before = [r.state.batches for r in runners]
    ends = await produce(common, topics.EVENTS, [e for a in accounts for e in busy_history(a, until=T0, days=2)])
    await consumed_past(app.state.runtime.engine, ends)
    assert all(r.state.batches > b for r, b in zip(runners, batches_before, strict=True))
    for account in accounts:
        assert (await _scored(app, account))["score"] is not None
