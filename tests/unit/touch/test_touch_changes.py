"""The working copy of one account (domain/changes.py): it answers as storage would after the
writes the call already decided, and keeps those writes for the change set."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from touchline.touch.domain.changes import Account, ClearTimer, MarkFired, SetTimer, Snapshot, TimerRow
from touchline.touch.domain.engine import Enrolment

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def test_messages_decided_earlier_in_the_call_count_towards_the_cap_once_each() -> None:
    account = Account(Snapshot("a1", sends=(("c0", T0 - DAY),), sends_since=T0 - 8 * DAY))
    account.record_sends([("c1", T0), ("c1", T0 + DAY)])
    assert account.recent_sends(since=T0 - 7 * DAY) == (T0 - DAY, T0)
    with pytest.raises(ValueError, match="snapshot holding those since"):
        account.recent_sends(since=T0 - 30 * DAY)  # the snapshot was loaded too narrow: a bug, not a guess


def test_a_fired_timer_set_again_for_the_same_instant_stays_fired_as_in_storage() -> None:
    account = Account(Snapshot("a1", timers=(TimerRow("trigger:advocacy", T0, playbook="advocacy", fired_at=T0),)))
    account.set_timer("trigger:advocacy", T0, playbook="advocacy")
    assert account.next_due(until=T0 + DAY) is None
    account.set_timer("trigger:advocacy", T0 + DAY, playbook="advocacy")
    assert account.next_due(until=T0 + DAY) == TimerRow("trigger:advocacy", T0 + DAY, playbook="advocacy")


def test_a_run_written_twice_is_one_change_with_its_last_state_and_leaves_the_open_runs_when_it_ends() -> None:
    run = Enrolment("enr_1", "a1", "risk", "default", "tech", T0, {}, step="mail")
    account = Account(Snapshot("a1", enrolments=(run,), enrolment_ids=frozenset({"enr_1"})))
    account.save_enrolment(replace(run, step="task"), at=T0 + DAY)
    ended = replace(run, status="completed")
    account.save_enrolment(ended, at=T0 + 2 * DAY)
    assert account.changes().enrolments == ((ended, T0 + 2 * DAY),)
    assert account.open_enrolments() == [] and account.enrolment("enr_1") == ended


def test_timer_changes_are_kept_in_the_order_decided() -> None:
    account = Account(Snapshot("a1", timers=(TimerRow("trigger:advocacy", T0, playbook="advocacy"),)))
    account.mark_fired("trigger:advocacy", at=T0)
    account.set_timer("enrolment:e1", T0 + DAY, enrolment_id="e1")
    account.clear_timer("enrolment:e1")
    assert account.changes().timers == (
        MarkFired("trigger:advocacy", T0),
        SetTimer("enrolment:e1", T0 + DAY, enrolment_id="e1"),
        ClearTimer("enrolment:e1"),
    )
    assert account.earliest_due() is None
