"""Newsletters through touch's API on the real stack: to the segment's accounts only, and never
past the message cap the playbooks share (a touch with a cap of one message a week)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from touch_harness import Touch, touch_service  # type: ignore[import-not-found]
from touch_support import DAY, eventually, new_account  # type: ignore[import-not-found]

from touchline.shared.settings import CommonSettings
from touchline.touch.settings import TouchSettings

ISSUE = {
    "title": "March news",
    "intro": "What is new",
    "items": [{"title": "Reports", "url": "https://help.test/reports"}],
    "segment": {"tiers": ["tech"], "phases": ["adoption"]},
}


@pytest.fixture(scope="module")
async def capped(common: CommonSettings) -> AsyncIterator[Touch]:
    async with touch_service(common, TouchSettings(timer_poll_seconds=0.2, message_cap=1)) as t:
        yield t


async def test_a_newsletter_reaches_the_segment_once_and_the_shared_cap_holds(capped: Touch) -> None:
    touch = capped
    t0 = await touch.sim.fresh_start()
    tech, low = touch.account(new_account()), touch.account(new_account())
    await touch.feed.group(tech, t0, arr=900, lifecycle_stage="adoption")
    await touch.feed.group(low, t0, arr=20_000, lifecycle_stage="adoption")
    for account in (tech, low):
        await eventually(lambda a=account: _known(touch, a), what=f"profile of {account}")

    sent = await touch.client.post("/v1/newsletters", json=ISSUE)
    assert sent.status_code == 200
    assert tech in sent.json()["sent"] and low not in sent.json()["sent"]
    [command] = await touch.commands.wait(tech, 1)
    assert (command.template, command.recipients.role) == ("newsletter.issue", "contacts")
    assert command.variables["newsletter"]["title"] == "March news"

    await touch.sim.set(t0 + DAY)
    again = await touch.client.post("/v1/newsletters", json={**ISSUE, "title": "Extra"})
    assert tech not in again.json()["sent"]
    assert {"account_id": tech, "until": (t0 + 7 * DAY).isoformat().replace("+00:00", "Z")} in again.json()["capped"]
    enrolled = await touch.client.post(f"/v1/accounts/{tech}/enrolments", json={"playbook": "risk"})
    history = [(h["step"], h["event"]) for h in enrolled.json()["history"]]
    assert ("notice", "deferred") in history  # the playbook's mail waits for room too
    assert len(touch.commands.of(tech)) == 1
    assert touch.commands.of(low) == []


async def test_a_newsletter_is_refused_naming_the_field(capped: Touch) -> None:
    for field, value in (("items", []), ("title", ""), ("intro", "a\x00b"), ("segment", {"phases": ["someday"]})):
        refused = await capped.client.post("/v1/newsletters", json={**ISSUE, field: value})
        assert refused.status_code == 422 and field in str(refused.json()["detail"]), (field, refused.json())
    bad_url = await capped.client.post("/v1/newsletters", json={**ISSUE, "items": [{"title": "x", "url": "ftp://x"}]})
    assert bad_url.status_code == 422 and "url" in str(bad_url.json()["detail"])


async def _known(touch: Touch, account: str) -> bool:
    return (await touch.client.get(f"/v1/accounts/{account}")).status_code == 200
