"""What counts as CSM contact: one rule for health (last contact, relationship) and touch (re-engagement)."""

from __future__ import annotations

import pytest

from touchline.shared.contact import activity_reached_customer, csm_contact


@pytest.mark.parametrize("kind", ["call", "meeting", "email"])
def test_a_call_meeting_or_email_that_reached_the_customer_is_contact(kind: str) -> None:
    assert activity_reached_customer(kind=kind, reached=True)
    assert csm_contact(kind="activity.logged", detail="", activity={"kind": kind, "reached": True})


@pytest.mark.parametrize(
    "activity",
    [
        {"kind": "call", "reached": False},
        {"kind": "email", "reached": False},
        {"kind": "note", "reached": True},  # a note is never contact, whatever it claims
        {"kind": "note", "reached": False},
        {"kind": "lunch", "reached": True},
        {"kind": "call", "reached": "yes"},  # only a real true counts
        {"kind": "call"},
    ],
)
def test_an_unreached_attempt_a_note_or_a_malformed_activity_is_no_contact(activity: dict[str, object]) -> None:
    assert not csm_contact(kind="activity.logged", detail="", activity=activity)


def test_tasks_keep_their_close_reason_rule_and_other_outcomes_are_no_csm_contact() -> None:
    assert csm_contact(kind="task.completed", detail="completed: resolved", activity=None)
    assert not csm_contact(kind="task.completed", detail="completed: customer_unreachable", activity=None)
    assert not csm_contact(kind="activity.logged", detail="call: reached", activity=None)
    assert not csm_contact(kind="email.opened", detail="", activity={"kind": "call", "reached": True})
