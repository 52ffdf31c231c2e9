"""Deciding what a user sees in-app and recording survey answers, on an in-memory repository:
which outcomes they stage in the outbox, and when they stage none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_fakes import FakeNotifyRepo  # type: ignore[import-not-found]

from touchline.notify.answers import answer_email, answer_in_app
from touchline.notify.domain.surveys import NotOffered, normalise_answer
from touchline.notify.inbox import eligible_messages

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CAP = {"cap_count": 1, "cap_window": timedelta(days=1)}


@pytest.fixture
def repo() -> FakeNotifyRepo:
    return FakeNotifyRepo()


async def message(repo: FakeNotifyRepo, id_: str, *, kind: str = "popup", user: str = "u1", **fields: Any) -> None:
    created = fields.pop("created_at", NOW - timedelta(hours=1))
    await repo.insert_inapp_message(
        {
            "id": id_, "command_id": f"cmd-{id_}", "account_id": "acc-1", "user_id": user, "template": "t",
            "kind": kind, "survey": None, "locale": "en", "title": id_, "body": "", "question": None, "choices": [],
            "cta_label": None, "cta_url": None, "created_at": created, "expires_at": NOW + timedelta(days=7),
            **fields,
        }
    )  # fmt: skip


async def test_a_first_showing_is_recorded_once_as_inapp_shown(repo):
    await message(repo, "m1")
    first = await eligible_messages(repo, ["u1"], now=NOW, **CAP)
    again = await eligible_messages(repo, ["u1"], now=NOW + timedelta(minutes=5), **CAP)
    assert [m["id"] for m in first["u1"]] == [m["id"] for m in again["u1"]] == ["m1"]
    assert [o.outcome_id for o in repo.outcomes()] == ["notify:m1:shown"]


async def test_a_popup_over_the_cap_is_neither_shown_nor_recorded(repo):
    await message(repo, "m1", created_at=NOW - timedelta(hours=2))
    await message(repo, "m2")
    found = await eligible_messages(repo, ["u1", "u2"], now=NOW, **CAP)
    assert {u: [m["id"] for m in ms] for u, ms in found.items()} == {"u1": ["m1"]}
    assert repo.inapp["m2"]["shown_at"] is None
    assert [o.outcome_id for o in repo.outcomes()] == ["notify:m1:shown"]


async def test_each_changed_answer_is_a_new_outcome_and_a_repeated_one_is_none(repo):
    await message(repo, "s1", kind="survey", survey="nps", choices=[{"value": v} for v in range(11)])
    row = repo.inapp["s1"]
    nine, two = normalise_answer({"survey": "nps", "score": 9}), normalise_answer({"survey": "nps", "score": 2})
    assert await answer_in_app(repo, row, nine, now=NOW) == nine
    assert await answer_in_app(repo, repo.inapp["s1"], nine, now=NOW) is None
    assert await answer_in_app(repo, repo.inapp["s1"], two, now=NOW) == two
    answered = repo.outcomes("inapp.answered")
    assert [(o.outcome_id, o.answer) for o in answered] == [
        ("notify:s1:answered-000001", nine),
        ("notify:s1:answered-000002", two),
    ]


async def test_an_in_app_answer_naming_a_choice_not_offered_is_refused(repo):
    await message(repo, "s1", kind="survey", survey="nps", choices=[{"value": 9}, {"value": 10}])
    with pytest.raises(NotOffered):
        await answer_in_app(repo, repo.inapp["s1"], normalise_answer({"survey": "nps", "score": 3}), now=NOW)
    assert repo.outcomes() == []


async def test_a_mail_answer_is_logged_every_time_and_published_when_new(repo):
    await repo.insert_delivery(
        {"id": "d1", "command_id": "c1", "dedup_key": "c1", "account_id": "acc-1", "email": "a@x.test", "template": "t"}
    )
    given = normalise_answer({"survey": "nps", "score": 10})
    first = await answer_email(repo, "d1", given, now=NOW)
    second = await answer_email(repo, "d1", given, now=NOW + timedelta(minutes=1))
    assert first is not None and first[1] == given
    assert second is not None and second[1] is None
    assert len(repo.answer_log) == 2
    assert [o.outcome_id for o in repo.outcomes("email.answered")] == ["notify:d1:answered-000001"]


async def test_an_answer_to_an_unknown_mail_is_none_and_records_nothing(repo):
    assert await answer_email(repo, "nope", normalise_answer({"survey": "nps", "score": 10}), now=NOW) is None
    assert repo.answer_log == [] and repo.outcomes() == []
