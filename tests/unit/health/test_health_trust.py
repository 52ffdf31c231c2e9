from datetime import UTC, datetime, timedelta

from touchline.health.domain.trust import LifecycleOutcome, auc, score_at, trust_report

T = datetime(2027, 6, 1, tzinfo=UTC)


def test_auc_is_one_when_every_churned_account_scored_below_every_retained_one() -> None:
    assert auc(churned=[10, 20], retained=[50, 90]) == 1.0
    assert auc(churned=[90], retained=[10]) == 0.0
    assert auc(churned=[50], retained=[50]) == 0.5
    assert auc(churned=[], retained=[1]) is None


def test_score_at_takes_the_latest_score_at_or_before() -> None:
    h = [(T - timedelta(days=60), 80.0), (T - timedelta(days=20), 40.0)]
    assert score_at(h, T - timedelta(days=30)) == 80.0
    assert score_at(h, T) == 40.0
    assert score_at(h, T - timedelta(days=90)) is None


def test_trust_report_scores_each_outcome_at_each_horizon() -> None:
    history = {
        "churned": [(T - timedelta(days=100), 70.0), (T - timedelta(days=45), 30.0)],
        "renewed": [(T - timedelta(days=100), 60.0)],
    }
    outcomes = [
        LifecycleOutcome("churned", True, T),
        LifecycleOutcome("renewed", False, T),
        LifecycleOutcome("new", False, T),
    ]
    r30, r60, r90 = trust_report(outcomes, history)
    assert (r30.auc, r30.churned, r30.retained, r30.unscored) == (1.0, 1, 1, 1)
    assert r60.auc == 0.0 and r90.days == 90
