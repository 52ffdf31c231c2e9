"""Touch's decisions on an in-memory snapshot: inputs and due timers in, a change set out.
No repository, not even a fake: what a decision reads is the snapshot, what it decides is the value."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from touchline.shared.messages import ProductEvent
from touchline.touch.decisions import Decisions, status_change, timer_key
from touchline.touch.domain.changes import Account, ChangeSet, ClearTimer, SetTimer, Snapshot, TimerRow
from touchline.touch.domain.signals import from_event
from touchline.touch.domain.triggers import enrolment_id
from touchline.touch.main import load_config
from touchline.touch.settings import TouchSettings

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def decisions() -> Decisions:
    return Decisions(load_config(TouchSettings()))


def signed(account: str, at: datetime) -> ProductEvent:
    return ProductEvent(
        message_id=f"{account}-signed",
        account_id=account,
        kind="track",
        semantic="signed",
        timestamp=at,
        received_at=at,
    )


def decide_signed(decisions: Decisions, snapshot: Snapshot) -> ChangeSet:
    account = Account(snapshot)
    decisions.apply(account, from_event(signed(snapshot.account_id, T0)), now=T0)
    return account.changes()


def stored(changes: ChangeSet) -> Snapshot:
    """The snapshot a later call loads once ``changes`` is written (a first call on a new account)."""
    timers: dict[str, TimerRow] = {}
    for c in changes.timers:
        if isinstance(c, SetTimer):
            timers[c.key] = TimerRow(c.key, c.due_at, c.enrolment_id, c.playbook)
        else:
            timers.pop(c.key, None)
    runs = [e for e, _ in changes.enrolments]
    return Snapshot(
        account_id=changes.account_id,
        profile=changes.profile[0] if changes.profile else None,
        activity=changes.activity or Snapshot(changes.account_id).activity,
        enrolments=tuple(e for e in runs if e.open),
        enrolment_ids=frozenset(e.id for e in runs),
        last_enrolled={e.playbook: e.enrolled_at for e in runs},
        sends=changes.sends,
        timers=tuple(timers.values()),
    )


def test_a_signed_account_decides_its_profile_tier_run_welcome_and_timers_in_one_change_set(
    decisions: Decisions,
) -> None:
    changes = decide_signed(decisions, Snapshot("a1"))
    assert changes.profile is not None and changes.profile[0].account_id == "a1"
    assert [a.tier for a, _ in changes.tiers] == ["tech"]
    [(run, at)] = changes.enrolments
    assert (run.playbook, run.step, at) == ("onboarding", "await_welcome", T0)
    assert changes.history[0][1].event == "enrolled" and {e for e, _ in changes.history} == {run.id}
    assert [(c.template, c.enrolment_id) for c in changes.commands] == [("onboarding.welcome", run.id)]
    assert changes.sends == ((changes.commands[0].command_id, T0),)
    sets = {c.key: c.due_at for c in changes.timers if isinstance(c, SetTimer)}
    assert sets[timer_key(run)] == T0 + DAY and {"trigger:advocacy", "trigger:reengagement"} <= set(sets)
    assert changes.fired == () and changes.date_triggers == ()


def test_an_account_whose_trigger_already_enrolled_it_decides_nothing_new(decisions: Decisions) -> None:
    first = decide_signed(decisions, Snapshot("a1"))
    [(run, _)] = first.enrolments
    closed = replace(stored(first), enrolments=(), last_enrolled={})  # the run ended, long ago
    again = decide_signed(decisions, closed)
    assert run.id in closed.enrolment_ids and again.enrolments == () and again.commands == ()


def test_a_due_wait_fires_as_of_its_due_time_and_the_run_moves_on(decisions: Decisions) -> None:
    first = decide_signed(decisions, Snapshot("a1"))
    [(run, _)] = first.enrolments
    account = Account(stored(first))
    until = T0 + DAY + timedelta(hours=3)
    decisions.fire_due(account, until=until)
    changes = account.changes()
    assert changes.fired == ((T0 + DAY, until),)  # (due at, fired as of): the timer lag metric
    [(moved, at)] = changes.enrolments
    assert moved.id == run.id and at == T0 + DAY and moved.wake_at == T0 + 2 * DAY
    assert [(c.channel, c.step, c.issued_at) for c in changes.commands] == [("task", "no_response", T0 + DAY)]
    assert changes.timers == (SetTimer(timer_key(run), T0 + 2 * DAY, enrolment_id=run.id),)


def test_a_timer_whose_run_is_no_longer_open_is_cleared_and_decides_nothing(decisions: Decisions) -> None:
    key = "enrolment:enr_gone"
    account = Account(Snapshot("a1", timers=(TimerRow(key, T0, enrolment_id="enr_gone"),)))
    decisions.fire_due(account, until=T0)
    changes = account.changes()
    assert changes.timers == (ClearTimer(key),) and changes.commands == () and changes.enrolments == ()


def test_a_csm_pause_is_decided_on_the_enrolment_alone(decisions: Decisions) -> None:
    [(run, _)] = decide_signed(decisions, Snapshot("a1")).enrolments
    paused, changes = status_change(run, "pause", now=T0 + DAY, by="kei")
    assert paused.status == "paused" and changes.enrolments == ((paused, T0 + DAY),)
    assert changes.timers == (ClearTimer(timer_key(run)),)
    assert [(h.event, h.detail) for _, h in changes.history] == [("paused", "by kei")]
    with pytest.raises(ValueError, match="cannot pause an enrolment that is paused"):
        status_change(paused, "pause", now=T0 + DAY, by="kei")


def test_the_enrolment_id_of_a_signal_trigger_is_its_source(decisions: Decisions) -> None:
    [(run, _)] = decide_signed(decisions, Snapshot("a1")).enrolments
    [item] = from_event(signed("a1", T0))
    assert run.id == enrolment_id("a1", "onboarding", item.source_id)
