"""Usage before vs after an instant (domain.usage), on hand-computed cases."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import HTTPException

from touchline.health.domain.usage import UsageRow, UsageSide, usage_around
from touchline.health.usage_api import parse_at

T = datetime(2027, 6, 1, 12, tzinfo=UTC)
D = timedelta(days=1)
H = timedelta(hours=1)


def test_one_account_averages_its_days_on_each_side() -> None:
    rows = [
        UsageRow("a", T - 3 * D, 0.2),
        UsageRow("a", T - 1 * D, 0.4),
        UsageRow("a", T + 1 * D, 0.5),
        UsageRow("a", T + 2 * D, 0.7),
        UsageRow("a", T + 3 * D, 0.9),
    ]
    r = usage_around(rows, at=T, days=30)
    assert r.before == UsageSide(mean=pytest.approx(0.3), accounts=1, rows=2)
    assert r.after == UsageSide(mean=pytest.approx(0.7), accounts=1, rows=3)
    assert r.change == pytest.approx(0.4)


def test_the_latest_value_of_a_day_counts_once() -> None:
    # Rescored three times on one day: only the evening's 0.6 counts, beside the next day's 0.2.
    day = T + 2 * D
    rows = [
        UsageRow("a", day.replace(hour=8), 0.1),
        UsageRow("a", day.replace(hour=20), 0.6),
        UsageRow("a", day.replace(hour=14), 0.3),
        UsageRow("a", day + D, 0.2),
    ]
    after = usage_around(rows, at=T, days=30).after
    assert after == UsageSide(mean=pytest.approx(0.4), accounts=1, rows=2)


def test_accounts_weigh_the_same_whatever_their_number_of_days() -> None:
    # a: ten days at 0.8, b: one day at 0.2 -> (0.8 + 0.2) / 2, not (8.0 + 0.2) / 11.
    rows = [UsageRow("a", T - (i + 1) * D, 0.8) for i in range(10)] + [UsageRow("b", T - D, 0.2)]
    before = usage_around(rows, at=T, days=30).before
    assert before == UsageSide(mean=pytest.approx(0.5), accounts=2, rows=11)


def test_the_window_is_half_open_before_and_after() -> None:
    rows = [
        UsageRow("a", T - 30 * D, 1.0),  # first instant of the window before: in
        UsageRow("b", T - 30 * D - H, 9.0),  # just before it: out
        UsageRow("c", T, 2.0),  # the instant itself belongs to after
        UsageRow("d", T + 30 * D, 9.0),  # end of the window after: out
    ]
    r = usage_around(rows, at=T, days=30)
    assert r.before == UsageSide(mean=1.0, accounts=1, rows=1)
    assert r.after == UsageSide(mean=2.0, accounts=1, rows=1)
    assert r.change == 1.0


def test_a_day_cut_by_the_instant_counts_on_both_sides() -> None:
    rows = [UsageRow("a", T - H, 0.3), UsageRow("a", T + H, 0.5)]
    r = usage_around(rows, at=T, days=1)
    assert (r.before.mean, r.after.mean) == (0.3, 0.5)


def test_a_side_without_data_is_none_and_so_is_the_change() -> None:
    r = usage_around([UsageRow("a", T + D, 0.5)], at=T, days=30)
    assert r.before == UsageSide(mean=None, accounts=0, rows=0)
    assert r.after.mean == 0.5
    assert r.change is None
    empty = usage_around([], at=T, days=30)
    assert (empty.before.mean, empty.after.mean, empty.change) == (None, None, None)


def test_instants_at_the_ends_of_the_calendar_do_not_overflow() -> None:
    first = datetime.min.replace(tzinfo=UTC)
    last = datetime.max.replace(tzinfo=UTC)
    assert usage_around([UsageRow("a", first, 0.1)], at=first, days=180).after.mean == 0.1
    assert usage_around([UsageRow("a", last - D, 0.1)], at=last, days=180).before.mean == 0.1


def test_an_instant_needs_a_zone_and_a_year_between_1970_and_2200() -> None:
    assert parse_at(datetime(2027, 6, 1, 9, tzinfo=UTC)) == datetime(2027, 6, 1, 9, tzinfo=UTC)
    for bad in (datetime(2027, 6, 1), datetime(1969, 12, 31, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)):
        with pytest.raises(HTTPException) as exc:
            parse_at(bad)
        assert exc.value.status_code == 422
        assert exc.value.detail[0]["loc"] == ["query", "at"]
