"""The service layer on an in-memory repository (a fake of the port, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from touch_fakes import FakeRepo  # type: ignore[import-not-found]

from touchline.shared.messages import Outcome, ProductEvent
from touchline.touch.domain.changes import Account, Snapshot, TimerRow
from touchline.touch.domain.signals import from_event, from_outcome
from touchline.touch.flows import Flows
from touchline.touch.main import load_config
from touchline.touch.settings import TouchSettings

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)


def signed(account: str, at: datetime) -> ProductEvent:
    return ProductEvent(
        message_id=f"{account}-signed",
        account_id=account,
        kind="track",
        semantic="signed",
        timestamp=at,
        received_at=at,
    )


@pytest.fixture
def flows() -> Flows:
    return Flows(load_config(TouchSettings()))


async def test_a_signed_account_is_tiered_enrolled_and_sent_its_welcome_with_the_next_wait_scheduled(
    flows: Flows,
) -> None:
    repo = FakeRepo()
    commands = await flows.apply(repo, "a1", from_event(signed("a1", T0)), now=T0)
    assert [(c.channel, c.template, c.playbook, c.step) for c in commands] == [
        ("email", "onboarding.welcome", "onboarding", "welcome")
    ]
    assert repo.tiers["a1"].tier == "tech" and repo.locked == ["a1"]
    [run] = repo.enrolments.values()
    assert repo.timers[("a1", f"enrolment:{run.id}")].due_at == T0 + timedelta(days=1)
    assert {k for _, k in repo.timers} >= {"trigger:advocacy", "trigger:reengagement"}


async def test_the_same_trigger_delivered_twice_enrols_once(flows: Flows) -> None:
    repo = FakeRepo()
    first = await flows.apply(repo, "a1", from_event(signed("a1", T0)), now=T0)
    again = await flows.apply(repo, "a1", from_event(signed("a1", T0)), now=T0)
    assert len(first) == 1 and again == [] and len(repo.enrolments) == 1


def test_a_timer_that_does_not_advance_is_reported_not_spun_on(flows: Flows) -> None:
    class StuckAccount(Account):
        def clear_timer(self, key: str) -> None:
            return None  # a broken decision: the timer never goes away

    account = StuckAccount(Snapshot("a1", timers=(TimerRow("enrolment:gone", T0, enrolment_id="gone"),)))
    with pytest.raises(RuntimeError, match="did not advance"):
        flows.decisions.fire_due(account, until=T0)


async def test_an_old_event_updates_the_profile_but_starts_no_playbook(flows: Flows) -> None:
    repo = FakeRepo()
    backfilled = from_event(signed("a1", T0 - timedelta(days=3)))
    assert await flows.apply(repo, "a1", backfilled, now=T0) == []
    assert repo.enrolments == {} and "a1" in repo.profiles


async def test_backfilled_history_schedules_date_triggers_from_now_not_in_the_past(flows: Flows) -> None:
    """60 days of history arrive today: the NPS survey (first seen + 30 d) is due now, not 30 days ago,
    so its run starts today and its waits can still see the customer's answer."""
    repo = FakeRepo()
    await flows.apply(repo, "a1", from_event(signed("a1", T0 - timedelta(days=60))), now=T0)
    assert repo.timers[("a1", "trigger:advocacy")].due_at >= T0


def test_a_message_seen_before_or_twice_in_a_batch_is_read_once() -> None:
    from touchline.shared.cloudevents import Envelope
    from touchline.shared.fates import BatchResult
    from touchline.touch.handlers import dedup_key, first_copies

    def env(message_id: str, offset: int) -> Envelope:
        message = signed("a1", T0).model_copy(update={"message_id": message_id})
        return Envelope(
            id=message_id,
            source="s",
            type=message.ce_type,
            message=message,
            topic="t",
            partition=0,
            offset=offset,
            key="a1",
        )

    batch = [env("m1", 1), env("m2", 2), env("m1", 3)]
    fresh = {dedup_key(batch[0])}  # m2 was processed in an earlier batch
    result = BatchResult()
    assert [(e.id, e.offset) for e in first_copies(batch, fresh, result)] == [("m1", 1)]
    assert [(e.id, e.offset, why) for e, why in result.skipped] == [("m2", 2, "duplicate"), ("m1", 3, "duplicate")]


def group(account: str, at: datetime, **traits: object) -> ProductEvent:
    return ProductEvent(
        message_id=f"{account}-group-{at.isoformat()}",
        account_id=account,
        kind="group",
        traits=traits,
        timestamp=at,
        received_at=at,
    )


async def test_a_silent_account_hears_from_us_every_30_days_four_times_until_a_real_contact(flows: Flows) -> None:
    """Re-engagement (120 d without CSM contact) recurs while the silence lasts, capped; a group
    call does not add runs, a task closed as "customer unreachable" does not reset the clock,
    a real contact does."""
    repo = FakeRepo()
    day = timedelta(days=1)
    await flows.apply(repo, "a1", from_event(group("a1", T0, arr=900, lifecycle_stage="adoption")), now=T0)
    fired = []
    for days in (120, 150, 180, 210, 240, 270):
        fired += await flows.fire_due(repo, "a1", until=T0 + days * day)
    mails = [c.issued_at for c in fired if c.playbook == "reengagement" and c.step == "news_mail"]
    assert mails == [T0 + d * day for d in (120, 150, 180, 210)]

    later = T0 + 275 * day
    again = await flows.apply(repo, "a1", from_event(group("a1", later, seats=12)), now=later)
    again += await flows.fire_due(repo, "a1", until=later + 60 * day)
    assert [c for c in again if c.playbook == "reengagement"] == []
    assert ("a1", "trigger:reengagement") not in repo.timers

    unreachable = later + 61 * day
    closed = Outcome(
        outcome_id="o0",
        account_id="a1",
        kind="task.completed",
        detail="completed: customer_unreachable: three calls, no answer",
        occurred_at=unreachable,
    )
    await flows.apply(repo, "a1", from_outcome(closed), now=unreachable)
    assert repo.profiles["a1"].last_csm_contact_at is None
    assert ("a1", "trigger:reengagement") not in repo.timers

    contact = later + 62 * day
    done = Outcome(
        outcome_id="o1", account_id="a1", kind="task.completed", detail="completed: resolved", occurred_at=contact
    )
    await flows.apply(repo, "a1", from_outcome(done), now=contact)
    assert repo.profiles["a1"].last_csm_contact_at == contact
    assert repo.timers[("a1", "trigger:reengagement")].due_at == contact + 120 * day


async def test_an_account_silent_for_140_days_when_first_heard_of_gets_news_at_once_and_again_30_days_later(
    flows: Flows,
) -> None:
    repo = FakeRepo()
    day = timedelta(days=1)
    first_seen = T0 - 140 * day  # a backfilled group call: first seen long ago
    await flows.apply(repo, "a1", from_event(group("a1", first_seen, arr=900, lifecycle_stage="adoption")), now=T0)
    fired = []
    for days in range(0, 45, 5):
        fired += await flows.fire_due(repo, "a1", until=T0 + days * day)
    mails = [c.issued_at for c in fired if c.playbook == "reengagement" and c.step == "news_mail"]
    assert mails == [T0, T0 + 30 * day]  # never two within weeks of each other
