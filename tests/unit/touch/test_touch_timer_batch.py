"""The timer loop's batch on the service layer: many accounts fired in one read and one write,
the same as one by one; one account's failure leaves the others fired and its own timers due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from touch_fakes import FakeRepo  # type: ignore[import-not-found]

from touchline.shared.messages import ProductEvent
from touchline.touch.decisions import Decisions
from touchline.touch.domain.changes import Account
from touchline.touch.domain.signals import from_event
from touchline.touch.flows import Flows
from touchline.touch.main import load_config
from touchline.touch.settings import TouchSettings

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
ACCOUNTS = [f"a{i}" for i in range(5)]


def event(account: str, at: datetime, **fields: object) -> ProductEvent:
    return ProductEvent(
        message_id=f"{account}-{at.isoformat()}-{fields.get('kind', 'track')}",
        account_id=account,
        timestamp=at,
        received_at=at,
        **{"kind": "track", **fields},  # type: ignore[arg-type]
    )


@pytest.fixture
def flows() -> Flows:
    return Flows(load_config(TouchSettings()))


async def signed_up(flows: Flows) -> FakeRepo:
    """Accounts signed at T0 (onboarding waits, date triggers): several timers each."""
    repo = FakeRepo()
    for account in ACCOUNTS:
        await flows.apply(repo, account, from_event(event(account, T0, semantic="signed")), now=T0)
    return repo


async def test_a_batch_fires_what_firing_the_accounts_one_by_one_fires(flows: Flows) -> None:
    one_by_one, batched = await signed_up(flows), await signed_up(flows)
    until = T0 + 45 * DAY
    singly = [c for a in ACCOUNTS for c in await flows.fire_due(one_by_one, a, until=until)]

    fired = await flows.fire_due_many(batched, ACCOUNTS, until=until)

    assert fired.failed == {} and len(fired.commands) > 2 * len(ACCOUNTS)
    assert fired.commands == singly
    assert batched.timers == one_by_one.timers and batched.history == one_by_one.history
    assert batched.enrolments == one_by_one.enrolments and batched.sends == one_by_one.sends


async def test_one_account_whose_decisions_fail_is_left_due_and_the_others_fire(flows: Flows) -> None:
    class Broken(Decisions):
        def fire_due(self, account: Account, *, until: datetime) -> None:
            if account.account_id == "a1":
                raise RuntimeError("broken step")
            super().fire_due(account, until=until)

    repo = await signed_up(flows)
    before = dict(repo.timers)
    flows.decisions = Broken(flows.config)

    fired = await flows.fire_due_many(repo, ACCOUNTS, until=T0 + 45 * DAY)

    assert list(fired.failed) == ["a1"] and isinstance(fired.failed["a1"], RuntimeError)
    assert {c.account_id for c in fired.commands} == set(ACCOUNTS) - {"a1"}
    assert {k: t for k, t in repo.timers.items() if k[0] == "a1"} == {k: t for k, t in before.items() if k[0] == "a1"}
    assert all(c.account_id != "a1" for c in repo.applied[len(ACCOUNTS) :])


async def test_an_input_that_leaves_a_timer_due_tells_the_timer_loop(flows: Flows) -> None:
    repo = await signed_up(flows)
    told: list[str] = []
    flows.on_due = told.append
    now = T0 + 2 * DAY  # the onboarding's one-day wait is due and not fired yet
    await flows.apply(repo, "a1", from_event(event("a1", T0 + timedelta(hours=1), kind="identify")), now=now)
    await flows.apply(repo, "a2", from_event(event("a2", T0 + timedelta(hours=1), kind="identify")), now=T0 + DAY / 2)
    assert told == ["a1"]  # a2's wait is not due by its now: no wake-up
