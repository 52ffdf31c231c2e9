"""The answer listing's query parsing and answer view (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from touchline.notify.api.answers import BadQuery, answer_filter, answer_view, parse_instant


def test_an_instant_with_a_time_zone_is_accepted_including_z() -> None:
    assert parse_instant("since", "2026-01-31T00:00Z") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_instant("since", "2026-01-31T09:00:00+09:00") == datetime(2026, 1, 31, tzinfo=UTC)


def test_a_plus_sign_decoded_as_a_space_still_means_a_positive_offset() -> None:
    assert parse_instant("until", "2026-01-31T09:00:00 09:00") == datetime(2026, 1, 31, tzinfo=UTC)


def test_an_empty_instant_means_not_given() -> None:
    assert parse_instant("since", None) is None and parse_instant("since", "  ") is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [("yesterday", "since: expected an ISO 8601"), ("2026-01-31T00:00", "since: give a time zone"),
     ("2026-01-31 09:00", "since: give a time zone")],
)  # fmt: skip
def test_a_bad_instant_is_refused_naming_the_parameter(raw: str, message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        parse_instant("since", raw)


def test_an_unknown_survey_is_refused_naming_the_parameter() -> None:
    with pytest.raises(BadQuery, match="survey: expected one of nps"):
        answer_filter(survey="happiness", account_id=None, since=None, until=None)


def test_until_before_since_is_refused() -> None:
    with pytest.raises(BadQuery, match="until: must be after since"):
        answer_filter(survey="nps", account_id=None, since="2026-02-01T00:00Z", until="2026-01-01T00:00Z")


def test_empty_parameters_mean_no_filter() -> None:
    f = answer_filter(survey="", account_id="", since="", until="")
    assert (f.survey, f.account_id, f.since, f.until) == (None, None, None, None)


def test_a_full_filter_keeps_every_parameter() -> None:
    f = answer_filter(survey="nps", account_id="a1", since="2026-01-01T00:00Z", until="2026-02-01T00:00+09:00")
    assert f.survey == "nps" and f.account_id == "a1"
    assert f.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert f.until == datetime(2026, 2, 1, tzinfo=timezone(timedelta(hours=9)))


def test_an_answer_is_shown_flattened_beside_the_answer_itself() -> None:
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    row = {"id": "m1", "channel": "in_app", "account_id": "a1", "user_id": "u1", "template": "advocacy.nps_survey",
           "answer": {"survey": "nps", "score": 3, "comment": "slow"}, "answered_at": at}  # fmt: skip
    view = answer_view(row)
    assert view["survey"] == "nps" and view["score"] == 3 and view["comment"] == "slow"
    assert view["choice"] is None and view["features"] is None
    assert view["answer"] == {"survey": "nps", "score": 3, "comment": "slow"}
    assert view["answered_at"] == at.isoformat() and view["channel"] == "in_app"
    assert view["partial"] is False


def test_a_partial_answer_is_shown_as_partial_with_the_missing_score_null() -> None:
    row = {"id": "m1", "channel": "email", "account_id": "a1", "user_id": "u1", "template": "advocacy.nps_survey",
           "answer": {"survey": "nps", "comment": "slow", "partial": True},
           "answered_at": datetime(2026, 1, 5, tzinfo=UTC)}  # fmt: skip
    view = answer_view(row)
    assert view["partial"] is True and view["score"] is None and view["comment"] == "slow"
