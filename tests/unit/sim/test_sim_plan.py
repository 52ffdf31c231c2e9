import json
from datetime import UTC, datetime, timedelta

from touchline.sim.personas import PlannedEvent, make_accounts
from touchline.sim.plan import MAX_BATCH_BYTES, Config, batches, events_of_day, history_of, to_segment

START = datetime(2027, 1, 4, tzinfo=UTC)


def test_track_call_has_segment_shape():
    event = PlannedEvent(
        type="track",
        account_id="a",
        user_id="u",
        at=START,
        message_id="m1",
        event="Feature Used",
        properties={"feature": "reports"},
    )
    call = to_segment(event, sent_at=START + timedelta(minutes=5))
    assert call["type"] == "track" and call["event"] == "Feature Used" and call["userId"] == "u"
    assert call["properties"] == {"feature": "reports"} and call["messageId"] == "m1"
    assert datetime.fromisoformat(call["sentAt"]) - datetime.fromisoformat(call["timestamp"]) == timedelta(minutes=5)


def test_group_call_names_the_account_and_its_traits():
    event = PlannedEvent(type="group", account_id="acct-1", user_id="u", at=START, message_id="g", traits={"plan": "x"})
    call = to_segment(event, sent_at=START)
    assert call["groupId"] == "acct-1" and call["traits"] == {"plan": "x"}


def test_batches_respect_the_event_count_and_keep_order():
    calls = [{"messageId": str(i)} for i in range(450)]
    cut = list(batches(calls, max_events=200))
    assert [len(b) for b in cut] == [200, 200, 50]
    assert [c for b in cut for c in b] == calls


def test_batches_respect_the_byte_limit():
    calls = [{"messageId": str(i), "properties": {"blob": "x" * 30_000}} for i in range(40)]
    for batch in batches(calls):
        assert len(json.dumps(batch)) < MAX_BATCH_BYTES + 40_000


def test_day_zero_introduces_everybody_before_their_history():
    accounts = make_accounts(seed=1, count=8, start=START)
    events = events_of_day(accounts, config=Config(seed=1, start=START, history_days=10), day=0)
    for account in accounts:
        own = [e for e in events if e.account_id == account.account_id]
        kinds = [e.type for e in own]
        assert kinds[: 2 * len(account.users)] == ["identify", "group"] * len(account.users)
    assert min(e.at for e in events if e.type == "track") < START - timedelta(days=9)
    assert len({e.message_id for e in events}) == len(events)


def test_later_days_carry_no_introductions_and_are_time_ordered():
    accounts = make_accounts(seed=1, count=8, start=START)
    events = events_of_day(accounts, config=Config(seed=1, start=START, history_days=10), day=3)
    assert events and all(e.type == "track" for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert all(e.at.date() == (START + timedelta(days=3)).date() for e in events)


def test_backfill_limits_history_to_the_named_personas():
    accounts = make_accounts(seed=1, count=8, start=START)
    config = Config(seed=1, start=START, history_days=20, backfill=("slow_decline",))
    events = events_of_day(accounts, config=config, day=0)
    past = {e.account_id for e in events if e.type == "track" and e.at < START}
    assert past == {a.account_id for a in accounts if a.persona == "slow_decline"}
    assert [history_of(a, config) for a in accounts[:2]] == [0, 20]


def test_accounts_are_first_heard_of_when_their_history_starts():
    accounts = make_accounts(seed=1, count=8, start=START)
    config = Config(seed=1, start=START, history_days=20, backfill=None, silent_days=200)
    events = events_of_day(accounts, config=config, day=0)
    first = {a.persona: min(e.at for e in events if e.account_id == a.account_id) for a in accounts}
    assert first["thriving"].date() == (START - timedelta(days=20)).date()
    assert first["long_silent"].date() == (START - timedelta(days=200)).date()
    assert first["stalled_onboarding"].date() == START.date()
