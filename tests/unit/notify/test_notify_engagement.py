"""Opens, clicks, unsubscribes and in-app events on an in-memory repository: each is reported once,
and a pixel fetched right after sending is a machine's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from notify_fakes import FakeNotifyRepo  # type: ignore[import-not-found]

from touchline.notify import engagement

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def repo() -> FakeNotifyRepo:
    fake = FakeNotifyRepo()
    await fake.insert_delivery(
        {
            "id": "d1",
            "command_id": "c1",
            "dedup_key": "c1",
            "account_id": "acc-1",
            "email": "Ann@x.test",
            "template": "t",
        }
    )
    fake.deliveries["d1"]["sent_at"] = SENT
    return fake


async def test_a_pixel_fetched_seconds_after_sending_is_a_machine_open_and_a_person_still_counts(repo):
    await engagement.record_open(
        repo, repo.deliveries["d1"], now=SENT + timedelta(seconds=2), human=False, machine_within=10
    )
    await engagement.record_open(
        repo, repo.deliveries["d1"], now=SENT + timedelta(hours=1), human=False, machine_within=10
    )
    await engagement.record_open(
        repo, repo.deliveries["d1"], now=SENT + timedelta(hours=2), human=False, machine_within=10
    )
    opened = repo.outcomes("email.opened")
    assert [(o.outcome_id, o.machine) for o in opened] == [
        ("notify:d1:opened-machine", True),
        ("notify:d1:opened", False),
    ]
    assert len(repo.link_events) == 3  # every open is logged, the first of each kind reported


async def test_a_click_counts_as_a_person_opening_however_soon_it_comes(repo):
    now = SENT + timedelta(seconds=1)
    await engagement.record_open(repo, repo.deliveries["d1"], now=now, human=True, machine_within=10)
    await engagement.record_click(repo, repo.deliveries["d1"], now=now, index=0, url="https://x.test/a")
    await engagement.record_click(repo, repo.deliveries["d1"], now=now, index=1, url="https://x.test/b")
    assert [(o.kind, o.detail) for o in repo.outcomes()] == [
        ("email.opened", ""),
        ("email.clicked", "https://x.test/a"),
    ]


async def test_unsubscribing_twice_is_reported_once_and_silences_later_mail(repo):
    for minutes in (0, 5):
        await engagement.unsubscribe(repo, repo.deliveries["d1"], now=SENT + timedelta(minutes=minutes))
    [unsubscribed] = repo.outcomes()
    assert (unsubscribed.kind, unsubscribed.detail) == ("email.unsubscribed", "Ann@x.test")
    assert await repo.unsubscribed(["ANN@x.test"]) == {"ann@x.test"}


async def test_an_in_app_message_dismissed_twice_is_reported_once(repo):
    await repo.insert_inapp_message({"id": "m1", "command_id": "c1", "account_id": "acc-1", "user_id": "u1"})
    first = await engagement.record_inapp_event(repo, repo.inapp["m1"], event="dismissed", now=SENT)
    again = await engagement.record_inapp_event(repo, repo.inapp["m1"], event="dismissed", now=SENT)
    assert (first, again) == (True, False)
    assert [o.outcome_id for o in repo.outcomes()] == ["notify:m1:dismissed"]
