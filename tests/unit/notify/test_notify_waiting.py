"""The decision for an email command nobody can receive yet: deliver, wait (parked) or give up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from touchline.notify.domain.waiting import Deliver, GiveUp, Park, settle

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_a_command_someone_can_receive_is_delivered_at_once():
    assert settle(has_recipients=True, role="contacts", now=NOW, deadline=None, wait=DAY) == Deliver()


def test_a_command_nobody_can_receive_yet_waits_the_configured_time_from_when_it_is_first_seen():
    assert settle(has_recipients=False, role="contacts", now=NOW, deadline=None, wait=DAY) == Park(until=NOW + DAY)


def test_a_parked_command_whose_recipient_arrived_is_delivered_even_on_its_last_moment():
    assert settle(has_recipients=True, role="admins", now=NOW + DAY, deadline=NOW + DAY, wait=DAY) == Deliver()


def test_a_parked_command_still_without_recipient_keeps_its_first_deadline():
    later = NOW + timedelta(hours=3)
    # A shorter wait configured meanwhile does not move a deadline already promised.
    decision = settle(has_recipients=False, role="contacts", now=later, deadline=NOW + DAY, wait=timedelta(hours=1))
    assert decision == Park(until=NOW + DAY)


def test_a_parked_command_fails_once_its_deadline_is_reached_naming_role_and_deadline():
    decision = settle(has_recipients=False, role="csm_owner", now=NOW + DAY, deadline=NOW + DAY, wait=DAY)
    assert isinstance(decision, GiveUp)
    assert "no recipient with an email address for role csm_owner" in decision.detail
    assert (NOW + DAY).isoformat() in decision.detail


def test_a_zero_wait_fails_a_command_without_recipient_at_once_as_before():
    decision = settle(has_recipients=False, role="user", now=NOW, deadline=None, wait=timedelta(0))
    assert decision == GiveUp("no recipient with an email address for role user")
