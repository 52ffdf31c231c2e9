"""A logged activity's validation (each refusal names its field) and the outcome it publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from touchline.notify.domain.activities import InvalidActivity, outcome_of, row_of, validate
from touchline.notify.domain.tasks import InvalidTask, parse_due

NOW = datetime(2027, 3, 10, 15, tzinfo=UTC)


def fields(**changes: Any) -> dict[str, Any]:
    good: dict[str, Any] = {
        "kind": "meeting", "contact": "Hanako Yamada", "occurred_at": "2027-03-09", "outcome": "renewal agreed",
        "reached": True, "relationship": 5, "csm": "csm@us.test",
    }  # fmt: skip
    return {**good, **changes}


def test_a_date_alone_is_that_day_and_a_time_keeps_its_zone() -> None:
    assert validate(**fields(), now=NOW).occurred_at == datetime(2027, 3, 9, tzinfo=UTC)
    at = validate(**fields(occurred_at="2027-03-10T09:30+09:00"), now=NOW).occurred_at
    assert at == datetime(2027, 3, 10, 0, 30, tzinfo=UTC)


def test_a_note_needs_no_contact_and_is_never_reached() -> None:
    note = validate(**fields(kind="note", contact=None, reached=None, relationship=None), now=NOW)
    assert note.reached is False and not note.is_contact and note.contact is None


@pytest.mark.parametrize(
    ("field", "changes", "words"),
    [
        ("kind", {"kind": "lunch"}, "call, meeting, email, note"),
        ("csm", {"csm": "  "}, "who logged it"),
        ("contact", {"contact": None}, "spoke to or tried"),
        ("contact", {"contact": "x" * 321}, "at most"),
        ("occurred_at", {"occurred_at": "yesterday"}, "not a date"),
        ("occurred_at", {"occurred_at": "2027-03-09T10:00"}, "time zone"),
        ("occurred_at", {"occurred_at": "2027-03-11"}, "in the future"),
        ("outcome", {"outcome": " "}, "what happened"),
        ("reached", {"reached": None}, "reached the customer"),
        ("reached", {"kind": "note", "contact": None, "relationship": None}, "a note is not contact"),
        ("relationship", {"relationship": 0}, "from 1 to 5"),
        ("relationship", {"relationship": 6}, "from 1 to 5"),
        ("relationship", {"reached": False}, "only on a call, meeting or email that reached"),
        ("outcome", {"outcome": "a\x00b"}, "NUL"),
    ],
)
def test_a_bad_field_is_refused_naming_it(field: str, changes: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidActivity) as exc:
        validate(**fields(**changes), now=NOW)
    assert exc.value.field == field and words in exc.value.message


def test_the_outcome_carries_the_contract_fields_at_the_time_it_happened() -> None:
    activity = validate(**fields(), now=NOW)
    outcome = outcome_of(row_of(activity, activity_id="a1", account_id="acc", now=NOW))
    assert (outcome.kind, outcome.account_id, outcome.occurred_at) == ("activity.logged", "acc", activity.occurred_at)
    assert outcome.activity == {
        "kind": "meeting", "reached": True, "relationship": 5, "occurred_at": "2027-03-09T00:00:00+00:00",
        "csm": "csm@us.test", "contact": "Hanako Yamada",
    }  # fmt: skip


def test_a_due_date_is_due_by_its_end_and_the_past_is_refused() -> None:
    assert parse_due("2027-03-12", now=NOW) == datetime(2027, 3, 12, 23, 59, 59, tzinfo=UTC)
    assert parse_due(None, now=NOW) is None and parse_due(" ", now=NOW) is None
    for bad, words in (("2027-03-09", "in the past"), ("soon", "not a date"), ("2027-03-12T10:00", "time zone")):
        with pytest.raises(InvalidTask) as exc:
            parse_due(bad, now=NOW)
        assert exc.value.field == "due_at" and words in exc.value.message
    assert parse_due((NOW + timedelta(hours=1)).isoformat(), now=NOW) == NOW + timedelta(hours=1)
