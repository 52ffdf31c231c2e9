from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from touchline.notify.domain import milestones as ms
from touchline.notify.domain import routing as rt

NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # a Wednesday


def sub(theme: str, *, created: datetime = NOW - timedelta(days=1), kind: str = "standard") -> rt.Subscription:
    return rt.Subscription(f"s-{theme}-{kind}", theme, "team", kind, rt.subscription_endpoint_id(f"s-{theme}"), created)


def comment(text: str = "画面が使いにくい", *, at: datetime = NOW, **kw) -> rt.Comment:
    return rt.Comment("in_app", "m1", 1, "acc-1", kw.pop("kind", "nps"), kw.pop("score", 4), text, at, **kw)


def test_a_comment_goes_to_each_subscription_of_its_themes_made_before_it_was_answered() -> None:
    early, late, other = (
        sub("usability"),
        sub("usability", created=NOW + timedelta(minutes=1), kind="slack"),
        sub("price"),
    )
    assert rt.recipients(comment(), ["usability", "support"], [early, late, other]) == [early]


def test_routing_the_same_answer_twice_queues_the_same_webhook() -> None:
    s = sub("usability")
    assert rt.delivery_id(s, comment()) == rt.delivery_id(s, comment())
    changed = rt.Comment("in_app", "m1", 2, "acc-1", "nps", 4, "changed", NOW)  # a changed answer: answer no. 2
    assert rt.delivery_id(s, changed) != rt.delivery_id(s, comment())


def test_the_payload_carries_the_accounts_tier_and_arr() -> None:
    data = rt.comment_payload(comment(tier="high", arr=1_200_000.0), theme="usability", themes=["usability"], now=NOW)
    assert data["type"] == "feedback.comment"
    assert (data["data"]["tier"], data["data"]["arr"], data["data"]["comment"]) == (
        "high",
        1_200_000.0,
        "画面が使いにくい",
    )
    text = rt.comment_slack(comment(tier=None, arr=None, account_name="Acme"), theme="usability")["text"]
    assert text.startswith("[usability] Acme (tier unknown, ARR unknown)")


@pytest.mark.parametrize(
    ("survey", "template", "kind"),
    [("satisfaction", "churn.exit_survey", "exit"), ("satisfaction", "onboarding.satisfaction_survey", "satisfaction"),
     ("nps", "advocacy.nps_survey", "nps"), (None, None, "unknown")],
)  # fmt: skip
def test_the_feedback_kind_of_an_answer(survey: str | None, template: str | None, kind: str) -> None:
    assert rt.feedback_kind(survey=survey, template=template) == kind


def test_the_digest_covers_the_monday_to_monday_week_before() -> None:
    week = rt.last_full_week(NOW)
    assert (week.start, week.end, week.key) == (
        datetime(2026, 11, 16, tzinfo=UTC),
        datetime(2026, 11, 23, tzinfo=UTC),
        "2026-W47",
    )
    assert rt.last_full_week(datetime(2026, 11, 23, tzinfo=UTC)) == week  # Monday 00:00 starts a new week


def test_a_subscription_gets_digests_only_of_weeks_ending_after_it_was_made() -> None:
    week = rt.last_full_week(NOW)
    assert rt.digest_due(sub("usability", created=week.end - timedelta(hours=1)), week)
    assert not rt.digest_due(sub("usability", created=week.end), week)


def test_the_digest_counts_comments_and_accounts_per_survey_and_quotes_the_latest() -> None:
    week = rt.last_full_week(NOW)
    lines = [
        rt.DigestLine("a", "nps", 3, "slow", week.start + timedelta(days=1)),
        rt.DigestLine("a", "exit", 1, "too slow", week.start + timedelta(days=2)),
        rt.DigestLine("b", "nps", 5, "x" * 400, week.start + timedelta(days=3)),
    ]
    data = rt.digest_payload(sub("performance"), week, lines, now=NOW)["data"]
    assert (data["comments"], data["accounts"], data["by_survey"]) == (3, 2, {"exit": 1, "nps": 2})
    assert [x["account_id"] for x in data["latest"]] == ["b", "a", "a"] and len(data["latest"][0]["comment"]) == 300
    assert rt.digest_slack(sub("performance"), week, lines)["text"].startswith(
        "[performance] week 2026-W47: 3 comments from 2 accounts"
    )


def milestone(account: str | None = None) -> ms.Milestone:
    return ms.Milestone("m", "release", "v2", NOW, account, "csm")


def score(account: str, days: float, value: int) -> ms.Score:
    return ms.Score(account, NOW + timedelta(days=days), value)


def test_nps_before_and_after_a_milestone_uses_the_30_days_each_side_latest_answer_per_account() -> None:
    scores = [
        score("a", -40, 10),  # outside the window before
        score("a", -20, 2), score("b", -10, 9), score("a", -5, 3),  # before: a=3 (latest), b=9 -> 0
        score("a", 0, 9), score("b", 29, 10), score("c", 31, 0),  # after: a=9, b=10 -> +100; c is outside
    ]  # fmt: skip
    got = ms.around(milestone(), scores)
    assert (got.before, got.after, got.change) == (0.0, 100.0, 100.0)
    assert (got.answers_before, got.answers_after) == (2, 2)


def test_an_accounts_milestone_counts_that_accounts_answers_only_and_says_when_a_side_is_empty() -> None:
    got = ms.around(milestone("a"), [score("a", 3, 10), score("b", -3, 0)])
    assert (got.before, got.after, got.change, got.answers_before) == (None, 100.0, None, 0)


def test_a_milestone_at_either_end_of_the_calendar_compares_without_overflowing() -> None:
    for at in (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)):
        edge = ms.Milestone("m", "release", "v0", at, None, "csm")
        got = ms.around(edge, [ms.Score("a", at, 10), score("b", 0, 0)])
        assert (got.answers_before, got.answers_after, got.after) == (0, 1, 100.0)


def test_only_release_and_training_events_are_milestones() -> None:
    common = {"message_id": "e1", "account_id": "acc", "occurred_at": NOW}
    assert ms.from_event(event="Feature Used", properties={}, **common) is None
    release = ms.from_event(event="Release Published", properties={"version": "2.4"}, **common)
    assert release is not None and (release.kind, release.title, release.account_id) == ("release", "2.4", None)
    training = ms.from_event(event="Training Completed", properties={}, **common)
    assert training is not None and (training.title, training.account_id) == ("Training Completed", "acc")


def test_a_listed_answer_becomes_a_routed_comment_with_its_kind_tier_and_arr() -> None:
    from decimal import Decimal

    from touchline.notify.routing import comment_of

    row = {"channel": "email", "source_id": "d1", "seq": 2, "account_id": "acc-1", "template": "churn.exit_survey",
           "answer": {"survey": "satisfaction", "score": 2, "comment": "遅い"}, "answered_at": NOW,
           "account_name": "Acme", "tier": "high", "arr": Decimal("1200000")}  # fmt: skip
    got = comment_of(row)
    assert (got.kind, got.score, got.comment, got.tier, got.arr, got.seq) == ("exit", 2, "遅い", "high", 1_200_000.0, 2)
    bare = comment_of({**row, "answer": {"survey": "feature_usefulness", "features": ["reports"], "score": True},
                       "arr": None, "tier": None})  # fmt: skip
    assert (bare.kind, bare.score, bare.comment, bare.arr) == ("feature_usefulness", None, "", None)
