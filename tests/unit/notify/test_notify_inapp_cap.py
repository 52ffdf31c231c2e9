from datetime import UTC, datetime, timedelta

from touchline.notify.domain.inapp import InboxItem, eligible

NOW = datetime(2027, 1, 10, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def item(id_, kind="popup", *, age=timedelta(hours=1), expires=DAY, shown=None, closed=False):
    return InboxItem(id_, kind, NOW - age, NOW + expires, shown, closed)


def test_only_as_many_new_popups_as_the_cap_allows_oldest_first():
    out = eligible([item("b", age=timedelta(minutes=5)), item("a")], now=NOW, cap_count=1, cap_window=DAY)
    assert out.show == ["a"] and out.newly_shown == ["a"]


def test_a_popup_shown_within_the_window_uses_up_the_cap():
    items = [item("old", shown=NOW - timedelta(hours=2), closed=True), item("new")]
    assert eligible(items, now=NOW, cap_count=1, cap_window=DAY).show == []


def test_the_cap_frees_up_once_the_window_has_passed():
    items = [item("old", shown=NOW - timedelta(hours=30), closed=True), item("new")]
    assert eligible(items, now=NOW, cap_count=1, cap_window=DAY).show == ["new"]


def test_a_shown_but_unanswered_survey_stays_visible_without_counting_again():
    items = [item("s", "survey", shown=NOW - timedelta(hours=1))]
    out = eligible(items, now=NOW, cap_count=1, cap_window=DAY)
    assert out.show == ["s"] and out.newly_shown == []


def test_expired_and_closed_messages_are_not_shown():
    items = [item("x", expires=-timedelta(seconds=1)), item("y", closed=True)]
    assert eligible(items, now=NOW, cap_count=5, cap_window=DAY).show == []


def test_announcements_are_not_capped():
    items = [item("p", shown=NOW - timedelta(hours=1)), item("a", "announcement")]
    out = eligible(items, now=NOW, cap_count=1, cap_window=DAY)
    assert out.show == ["a", "p"] or set(out.show) == {"a", "p"}
    assert out.newly_shown == ["a"]
