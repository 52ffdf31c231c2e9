import pytest

from touchline.notify.domain.surveys import BadAnswer, normalise_answer


def test_valid_answers_keep_the_contract_shape():
    assert normalise_answer({"survey": "nps", "score": 9, "comment": "good"}) == {
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
