from datetime import UTC, datetime, timedelta

from touchline.notify.domain.tasks import (
    Create,
    ExistingTask,
    HoldBack,
    Recur,
    Reopen,
    decide,
    due_at,
    is_overdue,
    pick_owner,
    pool_for,
)

FRIDAY = datetime(2027, 1, 8, 10, tzinfo=UTC)


def test_no_open_task_creates_one():
    assert decide(None, now=FRIDAY) == Create()


def test_a_repeat_while_open_updates_the_same_task():
    assert decide(ExistingTask("t1", "open", None), now=FRIDAY) == Recur("t1")


def test_a_repeat_while_snoozed_is_held_back_until_the_snooze_ends():
    until = FRIDAY + timedelta(days=3)
    assert decide(ExistingTask("t1", "snoozed", until), now=FRIDAY) == HoldBack("t1", until)
    assert decide(ExistingTask("t1", "snoozed", until), now=until) == Reopen("t1")


def test_high_priority_is_due_in_one_business_day_skipping_the_weekend():
    assert due_at(priority="high", created_at=FRIDAY, explicit=None) == FRIDAY + timedelta(days=3)


def test_urgent_is_due_the_same_day_and_an_explicit_due_date_wins():
    assert due_at(priority="urgent", created_at=FRIDAY, explicit=None) == FRIDAY + timedelta(hours=4)
    explicit = FRIDAY + timedelta(days=10)
    assert due_at(priority="low", created_at=FRIDAY, explicit=explicit) == explicit


def test_the_accounts_csm_owns_the_task_else_the_pool_takes_turns():
    assert pick_owner(csm_owner="csm@x", pool=["a", "b"], turn=1) == "csm@x"
    assert [pick_owner(csm_owner=None, pool=["a", "b"], turn=t) for t in range(3)] == ["a", "b", "a"]
    assert pick_owner(csm_owner=None, pool=[], turn=0) is None


def test_the_pool_is_the_tiers_then_default():
    pools = {"high": ["h"], "default": ["d"]}
    assert pool_for("high", pools) == "high"
    assert pool_for("tech", pools) == "default"
    assert pool_for(None, {}) is None


def test_overdue_means_open_and_past_due():
    assert is_overdue(due=FRIDAY, status="open", now=FRIDAY + timedelta(seconds=1))
    assert not is_overdue(due=FRIDAY, status="completed", now=FRIDAY + timedelta(days=1))
