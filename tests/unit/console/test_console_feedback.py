from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from touchline.console import feedback
from touchline.console.models import SurveyAnswer

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def answer(
    score: int, comment: str = "", *, account: str = "a1", user: str | None = "u1", days: int = 1
) -> SurveyAnswer:
    return SurveyAnswer(account_id=account, at=NOW - timedelta(days=days), score=score, comment=comment, user_id=user)


@pytest.fixture(scope="module")
def tokenizer() -> feedback.JanomeTokenizer:
    return feedback.JanomeTokenizer()


@pytest.mark.parametrize(
    ("score", "bucket"),
    [(10, "promoter"), (9, "promoter"), (8, "passive"), (7, "passive"), (6, "detractor"), (0, "detractor")],
)
def test_nps_buckets_follow_the_usual_cut_offs(score: int, bucket: str) -> None:
    assert feedback.bucket(score) == bucket


def test_nps_is_promoters_minus_detractors_in_percent() -> None:
    answers = [answer(10, account="a"), answer(9, account="b"), answer(7, account="c"), answer(3, account="d")]
    summary = feedback.summarise(answers)
    assert (summary.promoters, summary.passives, summary.detractors) == (2, 1, 1)
    assert summary.nps == pytest.approx(25.0)


def test_nps_without_answers_is_unknown_not_zero() -> None:
    assert feedback.summarise([]).nps is None


def test_a_respondent_who_answers_twice_counts_once_with_the_latest_answer() -> None:
    summary = feedback.summarise([answer(2, days=10), answer(10, days=1)])
    assert (summary.promoters, summary.detractors) == (1, 0)


def test_answers_are_grouped_by_month_including_empty_months() -> None:
    months = feedback.by_month([answer(10, days=1), answer(3, account="b", days=40)], now=NOW, months=3)
    assert [key for key, _ in months] == ["2026-09", "2026-10", "2026-11"]
    assert months[0][1].total == 0 and months[1][1].detractors == 1 and months[2][1].promoters == 1


def test_japanese_comments_are_split_into_words_by_a_real_tokenizer(tokenizer: feedback.JanomeTokenizer) -> None:
    words = tokenizer.words("画面が使いにくいです。サポートの対応は早くて助かりました。")
    assert {"画面", "使いにくい", "サポート", "対応", "早い"} <= set(words)
    assert "が" not in words and "です" not in words


def test_english_words_are_lower_cased_without_stopwords(tokenizer: feedback.JanomeTokenizer) -> None:
    assert tokenizer.words("The Dashboard is slow") == ["dashboard", "slow"]


def test_keywords_rank_by_comments_using_them_and_name_their_accounts(tokenizer: feedback.JanomeTokenizer) -> None:
    answers = [
        answer(3, "レポートが遅い。レポートが重い。", account="a"),
        answer(4, "レポートの出力が遅い", account="b"),
        answer(10, "サポートが丁寧", account="c"),
    ]
    top = feedback.keywords(feedback.tokenize(answers, tokenizer=tokenizer), top=2)
    assert top[0].word == "レポート" and top[0].comments == 2 and top[0].account_ids == ["a", "b"]
    assert top[0].detractor_share == 1.0
    assert top[1].word == "遅い"


def test_themes_count_comments_matching_any_of_their_words(tokenizer: feedback.JanomeTokenizer) -> None:
    answers = [
        answer(3, "画面が使いにくい"),
        answer(5, "UI is confusing", account="b"),
        answer(9, "価格が高い", account="c"),
    ]
    found = feedback.themes(
        feedback.tokenize(answers, tokenizer=tokenizer),
        catalogue={"usability": ["使いにくい", "confusing"], "price": ["価格"]},
    )
    assert [(t.name, t.comments) for t in found] == [("usability", 2), ("price", 1)]


def test_drill_down_returns_only_comments_using_the_word(tokenizer: feedback.JanomeTokenizer) -> None:
    answers = [answer(3, "画面が使いにくい", account="a"), answer(9, "サポートが早い", account="b")]
    assert [a.account_id for a in feedback.matching(feedback.tokenize(answers, tokenizer=tokenizer), word="画面")] == [
        "a"
    ]


def kinded(survey: str, score: int | None, comment: str = "", *, template: str = "", features: tuple[str, ...] = (),
           account: str = "a1") -> SurveyAnswer:  # fmt: skip
    return SurveyAnswer(account_id=account, at=NOW - timedelta(days=1), score=score, comment=comment, user_id="u1",
                        survey=survey, template=template, features=features)  # fmt: skip


def test_a_satisfaction_survey_sent_at_churn_is_an_exit_answer() -> None:
    assert feedback.kind_of(kinded("satisfaction", 2, template="churn.exit_survey")) == "exit"
    assert feedback.kind_of(kinded("satisfaction", 2, template="onboarding.satisfaction_survey")) == "satisfaction"


@pytest.mark.parametrize(
    ("answer", "group"),
    [
        (kinded("nps", 9), "promoter"),
        (kinded("nps", 6), "detractor"),
        (kinded("satisfaction", 5), "satisfied"),
        (kinded("satisfaction", 3), "neutral"),
        (kinded("satisfaction", 1, template="churn.exit_survey"), "dissatisfied"),
        (kinded("feature_usefulness", None, features=("reports",)), "features_named"),
        (kinded("satisfaction", None, "partial answer"), None),
    ],
)
def test_each_kind_groups_its_answers_by_its_own_scale(answer: SurveyAnswer, group: str | None) -> None:
    assert feedback.group_of(answer) == group


def test_keywords_and_themes_are_grouped_per_kind_and_group(tokenizer: feedback.JanomeTokenizer) -> None:
    answers = [
        kinded("nps", 3, "画面が使いにくい", account="a"),
        kinded("nps", 10, "reports are great", account="b"),
        kinded("satisfaction", 1, "too slow", template="churn.exit_survey", account="c"),
        kinded("feature_usefulness", None, "レポートが便利", features=("reports",), account="d"),
        kinded("nps", 2, account="e"),  # answered without a comment: counted, not tokenized
    ]
    catalogue = {"usability": ["使いにくい"], "performance": ["slow"], "reports": ["reports", "レポート"]}
    groups = feedback.by_group(answers, feedback.tokenize(answers, tokenizer=tokenizer), catalogue=catalogue)
    by = {(g.kind, g.group): g for g in groups}
    assert list(by) == [("nps", "promoter"), ("nps", "detractor"), ("exit", "dissatisfied"),
                        ("feature_usefulness", "features_named")]  # fmt: skip
    detractors = by[("nps", "detractor")]
    assert (detractors.answers, detractors.comments) == (2, 1)
    assert [t.name for t in detractors.themes] == ["usability"] and "画面" in [k.word for k in detractors.keywords]
    assert [t.name for t in by[("exit", "dissatisfied")].themes] == ["performance"]
    assert [t.name for t in by[("feature_usefulness", "features_named")].themes] == ["reports"]
    assert [t.name for t in by[("nps", "promoter")].themes] == ["reports"]


def test_nps_counts_only_nps_answers() -> None:
    summary = feedback.summarise([kinded("nps", 10, account="a"), kinded("satisfaction", 1, account="b")])
    assert (summary.promoters, summary.detractors, summary.total) == (1, 0, 1)
