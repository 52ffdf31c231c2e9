"""The service layer on an in-memory repository (a fake of the port, no database)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from touchline.shared.messages import ProductEvent
from touchline.touch.domain.engine import Enrolment, HistoryEntry
from touchline.touch.domain.signals import from_event
from touchline.touch.domain.tiers import Profile, TierAssignment
from touchline.touch.flows import Flows
from touchline.touch.main import load_config
from touchline.touch.ports import DueTimer, StoredTier
from touchline.touch.settings import TouchSettings

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)


class FakeRepo:
    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}
        self.tiers: dict[str, StoredTier] = {}
        self.enrolments: dict[str, Enrolment] = {}
        self.history: dict[str, list[HistoryEntry]] = {}
        self.sends: list[tuple[str, str, datetime]] = []
        self.timers: dict[tuple[str, str], DueTimer] = {}
        self.locked: list[str] = []

    async def lock_account(self, account_id: str) -> None:
        self.locked.append(account_id)

    async def get_profile(self, account_id: str) -> Profile | None:
        return self.profiles.get(account_id)

    async def save_profile(self, profile: Profile, *, at: datetime) -> None:
        self.profiles[profile.account_id] = profile

    async def get_tier(self, account_id: str) -> StoredTier | None:
        return self.tiers.get(account_id)

    async def save_tier(self, account_id: str, a: TierAssignment, *, at: datetime) -> None:
        self.tiers[account_id] = StoredTier(a.tier, a.rule, a.phase, a.value, a.reason, at)

    async def open_enrolments(self, account_id: str) -> list[Enrolment]:
        return [e for e in self.enrolments.values() if e.account_id == account_id and e.open]

    async def get_enrolment(self, enrolment_id: str) -> Enrolment | None:
        return self.enrolments.get(enrolment_id)

    async def last_enrolled_at(self, account_id: str, playbook: str) -> datetime | None:
        times = [
            e.enrolled_at for e in self.enrolments.values() if (e.account_id, e.playbook) == (account_id, playbook)
        ]
        return max(times, default=None)

    async def save_enrolment(self, e: Enrolment, *, at: datetime) -> None:
        self.enrolments[e.id] = e

    async def add_history(self, enrolment_id: str, entries: Sequence[HistoryEntry]) -> None:
        self.history.setdefault(enrolment_id, []).extend(entries)

    async def recent_sends(self, account_id: str, *, since: datetime) -> tuple[datetime, ...]:
        return tuple(at for a, _, at in self.sends if a == account_id and at > since)

    async def record_sends(self, account_id: str, sends: Sequence[tuple[str, datetime]]) -> None:
        self.sends += [(account_id, c, at) for c, at in sends]

    async def set_timer(
        self,
        account_id: str,
        key: str,
        due_at: datetime,
        *,
        enrolment_id: str | None = None,
        playbook: str | None = None,
    ) -> None:
        self.timers[(account_id, key)] = DueTimer(account_id, key, due_at, enrolment_id, playbook)

    async def get_timer(self, account_id: str, key: str) -> DueTimer | None:
        return self.timers.get((account_id, key))

    async def clear_timer(self, account_id: str, key: str) -> None:
        self.timers.pop((account_id, key), None)

    async def mark_fired(self, account_id: str, key: str, *, at: datetime) -> None:
        self.timers.pop((account_id, key), None)

    async def earliest_due(self, account_id: str) -> datetime | None:
        return min((t.due_at for (a, _), t in self.timers.items() if a == account_id), default=None)

    async def next_due(self, account_id: str, *, until: datetime) -> DueTimer | None:
        due = [t for (a, _), t in self.timers.items() if a == account_id and t.due_at <= until]
        return min(due, key=lambda t: (t.due_at, t.key), default=None)


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


async def test_a_timer_that_does_not_advance_is_reported_not_spun_on(flows: Flows) -> None:
    class StuckRepo(FakeRepo):
        async def clear_timer(self, account_id: str, key: str) -> None:
            return None  # a broken store: the timer never goes away

    repo = StuckRepo()
    await repo.set_timer("a1", "enrolment:gone", T0, enrolment_id="gone")
    with pytest.raises(RuntimeError, match="did not advance"):
        await flows.fire_due(repo, "a1", until=T0)


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
    assert [(e.id, e.offset) for e in first_copies(batch, fresh)] == [("m1", 1)]
