"""Newsletters: one mail per account, under the message cap the playbooks share (fake repository)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from touch_fakes import FakeRepo  # type: ignore[import-not-found]

from touchline.touch.domain.engine import MessageCap
from touchline.touch.domain.manual import ManualRequest
from touchline.touch.domain.newsletters import Item, Newsletter, newsletter_command
from touchline.touch.domain.segments import Segment
from touchline.touch.domain.tiers import Profile
from touchline.touch.flows import Flows
from touchline.touch.main import load_config
from touchline.touch.manual import enrol_by_hand
from touchline.touch.newsletters import send_newsletter
from touchline.touch.settings import TouchSettings

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
ISSUE = Newsletter("n1", "March news", "What is new", (Item("Reports", "https://help.test/reports"),), Segment())


def flows(cap: int) -> Flows:
    return Flows(load_config(TouchSettings(message_cap=cap, message_cap_days=7)))


def known_account(account: str = "a1") -> FakeRepo:
    repo = FakeRepo()
    repo.profiles[account] = Profile(
        account_id=account, traits={"arr": 900, "lifecycle_stage": "adoption"}, first_seen_at=T0 - 9 * DAY
    )
    return repo


def test_the_cap_is_full_until_the_oldest_send_in_the_window_leaves_it() -> None:
    cap = MessageCap(limit=2, per=7 * DAY)
    assert cap.full_until([T0 - 8 * DAY, T0 - DAY], now=T0) is None
    assert cap.full_until([T0 - 6 * DAY, T0 - DAY], now=T0) == T0 + DAY
    assert cap.full_until([T0 - 7 * DAY, T0 - DAY], now=T0) is None  # exactly a window ago: out


def test_a_newsletter_goes_once_to_all_the_accounts_contacts_with_its_tracked_items() -> None:
    command = newsletter_command(ISSUE, "a1", at=T0)
    assert command.command_id == command.dedup_key == "newsletter:n1:a1"
    assert (command.template, command.recipients.role) == ("newsletter.issue", "contacts")
    assert command.variables["newsletter"]["items"] == [{"title": "Reports", "url": "https://help.test/reports"}]


async def test_a_newsletter_counts_towards_the_cap_and_is_skipped_when_the_cap_is_full() -> None:
    f, repo = flows(cap=2), known_account()
    first = await send_newsletter(f, repo, ISSUE, "a1", now=T0)
    second_issue = Newsletter("n2", "April", "", ISSUE.items, Segment())
    second = await send_newsletter(f, repo, second_issue, "a1", now=T0 + DAY)
    third = await send_newsletter(f, repo, Newsletter("n3", "May", "", ISSUE.items, Segment()), "a1", now=T0 + 2 * DAY)
    assert [getattr(c, "command_id", None) for c in (first, second)] == ["newsletter:n1:a1", "newsletter:n2:a1"]
    assert third == T0 + 7 * DAY  # room again when the first issue leaves the window


async def test_a_playbook_step_waits_when_newsletters_filled_the_cap() -> None:
    f, repo = flows(cap=1), known_account()
    assert not isinstance(await send_newsletter(f, repo, ISSUE, "a1", now=T0), datetime)
    done = await enrol_by_hand(
        f, repo, f.config.playbooks["risk"], request=ManualRequest("a1", "risk", "kei"), key=None, now=T0, nonce="x"
    )
    assert done.commands == []
    assert done.enrolment.wake_at == T0 + 7 * DAY


@pytest.mark.parametrize("cap", [0])
async def test_without_a_cap_every_newsletter_goes(cap: int) -> None:
    f, repo = flows(cap=cap), known_account()
    for n in range(6):
        issue = Newsletter(f"n{n}", "x", "", ISSUE.items, Segment())
        assert not isinstance(await send_newsletter(f, repo, issue, "a1", now=T0), datetime)
