import pytest

from touchline.notify.domain.surveys import (
    QUESTIONS,
    BadAnswer,
    NotOffered,
    awaits_answer,
    check_offered,
    merge_answer,
    normalise_answer,
    offered_features,
)


def test_valid_answers_keep_the_contract_shape():
    assert normalise_answer({"survey": "nps", "score": 9, "comment": "good"}) == {  # both questions: complete
        "survey": "nps",
        "score": 9,
        "comment": "good",
    }
    assert normalise_answer({"choice": "likely"}, expected="renewal") == {"survey": "renewal", "choice": "likely"}
    assert normalise_answer({"survey": "feature_usefulness", "features": ["a"]})["features"] == ["a"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"survey": "nps", "score": 11}, "answer.score"),
        ({"survey": "nps", "score": True}, "answer.score"),
        ({"survey": "satisfaction", "score": 0}, "answer.score"),
        ({"survey": "renewal", "choice": "maybe"}, "answer.choice"),
        ({"survey": "bogus"}, "answer.survey"),
        ({"survey": "feature_usefulness", "features": "a"}, "answer.features"),
        ({"survey": "roi", "score": 5, "comment": 3}, "answer.comment"),
        ("yes", "answer"),
    ],
)
def test_bad_answers_are_refused_naming_the_field(raw, field):
    with pytest.raises(BadAnswer, match=field.replace(".", r"\.")):
        normalise_answer(raw)


def test_an_answer_to_another_survey_is_refused():
    with pytest.raises(BadAnswer, match="asks a nps survey"):
        normalise_answer({"survey": "renewal", "choice": "likely"}, expected="nps")


def test_a_score_without_its_follow_up_is_a_partial_answer():
    assert normalise_answer({"survey": "nps", "score": 9}) == {"survey": "nps", "score": 9, "partial": True}


def test_a_comment_without_a_score_is_a_partial_answer_without_the_score_field():
    answer = normalise_answer({"survey": "nps", "comment": "too slow"})
    assert answer == {"survey": "nps", "comment": "too slow", "partial": True}
    assert normalise_answer({"survey": "satisfaction", "score": None, "comment": "ok"}) == {
        "survey": "satisfaction",
        "comment": "ok",
        "partial": True,
    }


def test_an_answer_to_none_of_the_questions_is_refused_naming_the_first():
    with pytest.raises(BadAnswer, match=r"answer\.score: answer at least one of score, comment"):
        normalise_answer({"survey": "nps", "comment": "   "})


def test_a_single_question_survey_is_never_partial():
    assert "partial" not in normalise_answer({"survey": "renewal", "choice": "likely"})
    assert "partial" not in normalise_answer({"survey": "referral", "choice": "yes", "comment": "sure"})


def test_a_later_answer_completes_a_partial_one():
    first = normalise_answer({"survey": "nps", "comment": "fast support"})
    merged = merge_answer(first, normalise_answer({"survey": "nps", "score": 9}))
    assert merged == {"survey": "nps", "score": 9, "comment": "fast support"}
    assert not awaits_answer(merged)


def test_a_changed_score_replaces_the_earlier_one_and_keeps_the_comment():
    stored = {"survey": "nps", "score": 9, "comment": "good"}
    assert merge_answer(stored, {"survey": "nps", "score": 2, "partial": True}) == {
        "survey": "nps",
        "score": 2,
        "comment": "good",
    }


def test_only_a_partial_answer_without_a_score_keeps_the_survey_open():
    assert awaits_answer({"survey": "nps", "comment": "x", "partial": True})
    assert not awaits_answer({"survey": "nps", "score": 3, "partial": True})
    assert not awaits_answer({"survey": "renewal", "choice": "likely"})
    assert not awaits_answer(None)


def test_a_feature_not_offered_is_refused_naming_the_field():
    answer = normalise_answer({"survey": "feature_usefulness", "features": ["reports", "billing"]})
    with pytest.raises(
        NotOffered, match=r"answer\.features: 'billing' was not offered \(offered: reports, dashboards\)"
    ):
        check_offered(answer, ["reports", "dashboards"])
    check_offered(normalise_answer({"survey": "feature_usefulness", "features": ["reports"]}), ["reports"])


def test_a_score_or_choice_not_offered_is_refused():
    with pytest.raises(NotOffered, match=r"answer\.score: 4 was not offered"):
        check_offered({"survey": "satisfaction", "score": 4}, [1, 5])
    with pytest.raises(NotOffered, match=r"answer\.choice: 'unlikely' was not offered"):
        check_offered({"survey": "renewal", "choice": "unlikely"}, ["likely", "undecided"])
    check_offered({"survey": "nps", "comment": "x", "partial": True}, list(range(11)))  # nothing named


def test_a_feature_answer_must_name_a_feature():
    with pytest.raises(BadAnswer, match=r"answer\.features: name at least one"):
        normalise_answer({"survey": "feature_usefulness", "features": []})


@pytest.mark.parametrize(
    "variables",
    [{}, {"features": []}, {"features": "reports"}, {"features": ["a", ""]}, {"features": ["a", "a"]},
     {"features": [f"f{i}" for i in range(7)]}],
)  # fmt: skip
def test_a_command_without_valid_features_to_offer_is_refused_naming_the_variable(variables):
    with pytest.raises(BadAnswer, match=r"variables\.features"):
        offered_features(variables)


def test_the_commands_features_are_offered_in_order():
    assert offered_features({"features": ["new", "reports", "dashboards"]}) == ["new", "reports", "dashboards"]


def test_every_multi_question_survey_asks_the_score_first():
    # pg_inapp.OPEN keeps a survey shown while a partial answer lacks its score: it relies on this.
    assert {questions[0] for questions in QUESTIONS.values()} == {"score"}
