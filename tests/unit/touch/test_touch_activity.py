"""What touch keeps of an account's use: recovery against its own level, daily use, features to offer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from touchline.touch.domain.activity import (
    MAX_FEATURES,
    Activity,
    UsageRules,
    in_daily_use,
    note_decline,
    offered_features,
    record_use,
    recovered,
)
from touchline.touch.domain.engine import Signal
from touchline.touch.domain.signals import Input, observe_activity

T0 = datetime(2030, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = UsageRules()


def used(
    activity: Activity, at: datetime, times: int = 1, *, login: bool = False, feature: str | None = None
) -> Activity:
    for _ in range(times):
        activity = record_use(activity, at=at, login=login, feature=feature)
    return activity


def steady_then_declined(per_day: int = 10, dropped_to: int = 6) -> Activity:
    """40 days at ``per_day`` events, then 30 days at ``dropped_to`` (health's trend window), then
    the decline is detected at T0."""
    a = Activity()
    for d in range(70, 30, -1):
        a = used(a, T0 - d * DAY, per_day)
    for d in range(30, 0, -1):
        a = used(a, T0 - d * DAY, dropped_to)
    return note_decline(a, at=T0)


def test_a_customer_back_at_full_use_the_day_after_the_decline_is_recovered_at_once() -> None:
    # The level before the drop is 10 a day (days 60-31 before detection); 80 % of it is 8.
    a = used(steady_then_declined(), T0 + DAY, 7)
    assert not recovered(a, at=T0 + DAY, rules=RULES)
    a = used(a, T0 + DAY, 1)
    assert recovered(a, at=T0 + DAY, rules=RULES)


def test_staying_at_the_lowered_level_is_no_recovery() -> None:
    """60 % of the old use: the 30 days just before detection are at that level too, so a bar
    drawn from them would call it a recovery; the level before the drop does not."""
    a = steady_then_declined(dropped_to=6)
    for d in range(1, 8):
        a = used(a, T0 + d * DAY, 6)
    assert not recovered(a, at=T0 + 7 * DAY, rules=RULES)


def test_an_account_without_history_before_the_measured_decline_compares_with_what_it_has() -> None:
    a = Activity()
    for d in range(20, 0, -1):
        a = used(a, T0 - d * DAY, 5)
    a = note_decline(a, at=T0)
    assert not recovered(used(a, T0 + DAY, 3), at=T0 + DAY, rules=RULES)
    assert recovered(used(a, T0 + DAY, 4), at=T0 + DAY, rules=RULES)


def test_use_still_low_after_the_decline_is_no_recovery_even_weeks_later() -> None:
    a = steady_then_declined(dropped_to=2)
    for d in range(1, 15):
        a = used(a, T0 + d * DAY, 3)
    assert not recovered(a, at=T0 + 14 * DAY, rules=RULES)


def test_the_detection_day_itself_never_counts_as_recovery() -> None:
    a = used(steady_then_declined(), T0 + timedelta(hours=2), 50)
    assert not recovered(a, at=T0 + timedelta(hours=2), rules=RULES)


def test_after_a_long_silence_any_use_is_a_recovery() -> None:
    a = note_decline(Activity(), at=T0)
    assert not recovered(a, at=T0 + DAY, rules=RULES)
    assert recovered(used(a, T0 + DAY), at=T0 + DAY, rules=RULES)


def test_the_usage_event_that_completes_recovery_derives_usage_improved_once() -> None:
    a = steady_then_declined()
    declined = Input(source_id="h", at=T0, signal=Signal("usage_declined", T0))
    a, derived = observe_activity(a, declined, at=T0, rules=RULES)
    assert derived == [] and a.declined_at == T0
    at = T0 + 2 * DAY
    signals: list[str] = []
    for i in range(20):  # the 16th makes 8 a day over the two days since detection
        a, derived = observe_activity(a, Input(source_id=f"e{i}", at=at, usage=True), at=at, rules=RULES)
        signals += [s.name for s in derived]
    assert signals == ["usage_improved"] and a.declined_at is None


def test_a_later_decline_signal_keeps_the_first_detection_date() -> None:
    a = note_decline(Activity(), at=T0)
    assert note_decline(a, at=T0 + 5 * DAY).declined_at == T0


def test_daily_use_needs_seven_login_days_within_two_weeks_not_one_login() -> None:
    once = used(Activity(), T0, 30, login=True)
    assert not in_daily_use(once, at=T0, rules=RULES)
    a = Activity()
    for d in range(7):
        a = used(a, T0 + 2 * d * DAY, login=True)  # every other day: 7 days within 13
    assert in_daily_use(a, at=T0 + 12 * DAY, rules=RULES)
    assert not in_daily_use(a, at=T0 + 15 * DAY, rules=RULES)  # the first ones left the window


def test_a_login_completing_daily_use_derives_the_daily_use_signal() -> None:
    a = Activity()
    for d in range(6):
        a = used(a, T0 + d * DAY, login=True)
    at = T0 + 6 * DAY
    login = Input(source_id="l", at=at, signal=Signal("login", at), usage=True)
    _, derived = observe_activity(a, login, at=at, rules=RULES)
    assert [s.name for s in derived] == ["daily_use"]
    page = Input(source_id="p", at=at, usage=True)
    assert observe_activity(a, page, at=at, rules=RULES)[1] == []


def test_features_offered_are_the_newly_used_first_then_the_rest_at_most_six() -> None:
    a = Activity()
    for i, f in enumerate(["reports", "export", "alerts", "api", "sso", "billing"]):
        a = used(a, T0 - (40 - i) * DAY, feature=f)
    a = used(a, T0 - 2 * DAY, feature="reports")  # old feature used again lately
    a = used(a, T0 + 1 * DAY, feature="dashboards")
    a = used(a, T0 + 2 * DAY, feature="forecasts")
    assert offered_features(a, since=T0) == ["forecasts", "dashboards", "reports", "billing", "sso", "api"]
    assert offered_features(Activity(), since=T0) == []


def test_the_activity_stays_small_and_survives_a_round_trip() -> None:
    a = Activity()
    for i in range(MAX_FEATURES + 10):
        a = used(a, T0 + i * DAY, login=True, feature=f"f{i}")
    assert len(a.features) == MAX_FEATURES and "f0" not in a.features
    assert min(a.usage) > (T0 + 49 * DAY).date().toordinal() - 100
    a = note_decline(a, at=T0)
    assert Activity.from_dict(a.to_dict()) == a
    assert Activity.from_dict(None) == Activity()
