from datetime import UTC, datetime, timedelta

from touchline.health.adapters.scorecard_file import load_scorecards
from touchline.health.domain.account import Policy, Published, next_midnight, rescore, score_id
from touchline.health.domain.aggregates import AccountState, apply_outcome, apply_product_event
from touchline.health.domain.overrides import make_override

T0 = datetime(2027, 3, 1, 10, tzinfo=UTC)
CARDS = load_scorecards()
POLICY = Policy()


def busy_account(days: int = 20) -> AccountState:
    s = AccountState("acme")
    apply_product_event(
        s,
        event_id="g",
        kind="group",
        semantic="other",
        at=T0 - timedelta(days=days),
        user_id=None,
        feature=None,
        traits={"seats": 2, "plan": "pro", "roi": 8, "business_shrinking": False},
    )
    for d in range(days):
        at = T0 - timedelta(days=d)
        for user in ("u1", "u2"):
            apply_product_event(
                s, event_id=f"l{d}{user}", kind="track", semantic="login", at=at, user_id=user, feature=None, traits={}
            )
        for f in ("a", "b", "c", "d", "e"):
            apply_product_event(
                s, event_id=f"f{d}{f}", kind="track", semantic="feature_used", at=at, user_id="u1", feature=f, traits={}
            )
    apply_outcome(s, outcome_id="t", kind="task.completed", at=T0, answer=None)
    apply_outcome(s, outcome_id="n", kind="inapp.answered", at=T0, answer={"survey": "nps", "score": 10})
    return s


def test_a_busy_account_is_good_and_the_first_score_is_published() -> None:
    r = rescore(busy_account(), CARDS, as_of=T0, overrides=[], published=None, policy=POLICY)
    assert r.result.band == "good" and r.result.score is not None and r.result.score >= 90
    assert r.publish and r.days_since_login == 0
    assert r.next_aging_at == next_midnight(T0)


def test_no_login_for_weeks_hurts_engagement_and_drops_the_band() -> None:
    s = busy_account()
    first = rescore(s, CARDS, as_of=T0, overrides=[], published=None, policy=POLICY)
    later = rescore(s, CARDS, as_of=T0 + timedelta(days=20), overrides=[], published=first.published(), policy=POLICY)
    assert later.result.measure("days_since_login").score < 10  # type: ignore[union-attr,operator]
    assert later.result.score < first.result.score - 20  # type: ignore[operator]
    assert first.result.band == "good" and later.result.band == "healthy" and later.publish
    assert later.days_since_login == 20
    assert later.reasons[0].startswith("Engagement · days since the last login = 20 days")


def test_small_moves_are_not_published() -> None:
    s = busy_account()
    first = rescore(s, CARDS, as_of=T0, overrides=[], published=None, policy=POLICY)
    again = rescore(s, CARDS, as_of=T0 + timedelta(hours=1), overrides=[], published=first.published(), policy=POLICY)
    assert not again.publish and again.published() == first.published()


def test_a_usage_trend_crossing_the_decline_threshold_is_published() -> None:
    s = busy_account()
    pub = Published(score=95, band="good", usage_trend=0.0)
    r = rescore(
        s, CARDS, as_of=T0 + timedelta(days=31), overrides=[], published=pub, policy=Policy(material_change=100)
    )
    assert r.usage_trend is not None and r.usage_trend <= -0.3 and r.publish


def test_overrides_survive_recomputes_and_expire_by_themselves() -> None:
    s = busy_account()
    o = make_override(
        kind="band",
        reason="champion left",
        set_by="csm",
        now=T0,
        expires_at=T0 + timedelta(days=3),
        band="caution",
        known_measures=set(),
    )
    r1 = rescore(s, CARDS, as_of=T0 + timedelta(hours=2), overrides=[o], published=None, policy=POLICY)
    assert r1.result.band == "caution" and r1.result.overridden and r1.overrides == [o]
    assert r1.next_aging_at == next_midnight(T0)
    r2 = rescore(
        s, CARDS, as_of=T0 + timedelta(days=3), overrides=r1.overrides, published=r1.published(), policy=POLICY
    )
    assert not r2.result.overridden and r2.overrides == [] and r2.publish


def test_an_override_expiry_is_the_next_aging_time_of_an_idle_account() -> None:
    s = AccountState("idle")
    apply_product_event(
        s, event_id="g", kind="group", semantic="other", at=T0, user_id=None, feature=None, traits={"seats": 1}
    )
    o = make_override(
        kind="score",
        reason="r",
        set_by="csm",
        now=T0,
        expires_at=T0 + timedelta(days=400),
        score=70,
        known_measures=set(),
    )
    r = rescore(s, CARDS, as_of=T0 + timedelta(days=200), overrides=[o], published=None, policy=POLICY)
    assert r.next_aging_at == T0 + timedelta(days=400)


def test_an_account_idle_beyond_the_horizon_has_nothing_left_to_age() -> None:
    r = rescore(busy_account(), CARDS, as_of=T0 + timedelta(days=200), overrides=[], published=None, policy=POLICY)
    assert r.next_aging_at is None


def test_trends_compare_with_the_score_7_and_30_days_earlier() -> None:
    s = busy_account()
    first = rescore(s, CARDS, as_of=T0, overrides=[], published=None, policy=POLICY)
    r = rescore(s, CARDS, as_of=T0 + timedelta(days=8), overrides=[], published=None, policy=POLICY)
    assert r.trend_7d == round(r.result.computed - first.result.computed, 1)  # type: ignore[operator]
    assert r.trend_30d is None


def test_enterprise_accounts_use_the_enterprise_scorecard() -> None:
    s = busy_account()
    apply_product_event(
        s,
        event_id="g2",
        kind="group",
        semantic="other",
        at=T0,
        user_id=None,
        feature=None,
        traits={"plan": "Enterprise"},
    )
    assert rescore(s, CARDS, as_of=T0, overrides=[], published=None, policy=POLICY).result.scorecard == "enterprise"


def test_score_ids_are_deterministic() -> None:
    assert score_id("a", cause="event", key="e1") == score_id("a", cause="event", key="e1")
    assert score_id("a", cause="event", key="e1") != score_id("a", cause="decay", key="e1")
