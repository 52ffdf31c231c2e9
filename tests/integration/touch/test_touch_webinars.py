"""Webinars through touch's API on the real stack: create one for a segment, invite it, and exactly
the accounts of the segment get one invitation command each, however often the segment is invited."""

from __future__ import annotations

from datetime import datetime

from touch_harness import Touch  # type: ignore[import-not-found]
from touch_support import eventually, new_account  # type: ignore[import-not-found]

from touchline.touch.domain.segments import Segment
from touchline.touch.domain.webinars import Webinar, invitation

BODY = {
    "title": "Dashboards for teams",
    "starts_at": "2099-06-01T09:00:00+09:00",
    "capacity": 15,
    "segment": {"tiers": ["low"], "phases": ["adoption"]},
}


async def known(touch: Touch, account: str) -> bool:
    return (await touch.client.get(f"/v1/accounts/{account}")).status_code == 200


async def test_inviting_a_segment_sends_one_invitation_to_each_of_its_accounts_only(touch: Touch) -> None:
    t0 = await touch.sim.fresh_start()
    low, tech, retention = (touch.account(new_account()) for _ in range(3))
    await touch.feed.group(low, t0, arr=20_000, lifecycle_stage="adoption")
    await touch.feed.group(tech, t0, arr=900, lifecycle_stage="adoption")
    await touch.feed.group(retention, t0, arr=20_000, lifecycle_stage="retention")
    for account in (low, tech, retention):
        await eventually(lambda a=account: known(touch, a), what=f"profile of {account}")

    created = await touch.client.post("/v1/webinars", json=BODY)
    assert created.status_code == 201
    webinar = created.json()
    assert (await touch.client.get(f"/v1/webinars/{webinar['id']}")).json() == webinar
    assert webinar["segment"] == {"tiers": ["low"], "phases": ["adoption"]}
    assert datetime.fromisoformat(webinar["starts_at"]) == datetime.fromisoformat(BODY["starts_at"])

    invited = await touch.client.post(f"/v1/webinars/{webinar['id']}/invite")
    assert invited.status_code == 200
    assert low in invited.json()["invited"]
    assert tech not in invited.json()["invited"] and retention not in invited.json()["invited"]
    [command] = await touch.commands.wait(low, 1)
    expected = invitation(
        Webinar(
            webinar["id"],
            BODY["title"],
            datetime.fromisoformat(webinar["starts_at"]),
            15,
            Segment(tiers=("low",), phases=("adoption",)),
            datetime.fromisoformat(webinar["created_at"]),
        ),
        low,
        at=command.issued_at,
    )
    assert command == expected

    again = await touch.client.post(f"/v1/webinars/{webinar['id']}/invite")
    assert low in again.json()["invited"]
    await touch.commands.wait(low, 1)
    assert {c.command_id for c in touch.commands.of(low)} == {command.command_id}  # a copy, dropped by notify
    assert touch.commands.of(tech) == [] and touch.commands.of(retention) == []


async def test_a_webinar_is_refused_naming_the_field_and_an_unknown_or_past_one_is_not_invited(touch: Touch) -> None:
    for field, value in (
        ("starts_at", "2099-06-01T09:00:00"),
        ("capacity", 0),
        ("title", ""),
        ("title", "a\x00b"),
        ("segment", {"tiers": ["gold"]}),
    ):
        refused = await touch.client.post("/v1/webinars", json={**BODY, field: value})
        assert refused.status_code == 422, field
        assert field in str(refused.json()["detail"]), refused.json()
    assert (await touch.client.get("/v1/webinars/nope")).status_code == 404
    assert (await touch.client.post("/v1/webinars/nope/invite")).status_code == 404
    past = (await touch.client.post("/v1/webinars", json={**BODY, "starts_at": "2001-01-01T00:00:00Z"})).json()
    started = await touch.client.post(f"/v1/webinars/{past['id']}/invite")
    assert started.status_code == 409 and "started" in started.json()["detail"]
    assert (
        await touch.client.post("/v1/webinars", json=BODY, headers={"Authorization": "Bearer x"})
    ).status_code == 401
