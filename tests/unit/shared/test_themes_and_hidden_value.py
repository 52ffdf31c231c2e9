from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from touchline.shared.hidden_value import Said, value_not_realised
from touchline.shared.themes import JanomeTokenizer, load_catalogue, parse_catalogue, themes_of

NOW = datetime(2026, 11, 24, tzinfo=UTC)
CATALOGUE = {"usability": ["使いにくい", "画面", "confusing"], "performance": ["遅い", "slow"], "onboarding": ["設定"]}


@pytest.fixture(scope="module")
def tokenizer() -> JanomeTokenizer:
    return JanomeTokenizer()


def test_a_japanese_comment_matches_its_themes_through_the_tokenizer(tokenizer: JanomeTokenizer) -> None:
    comment = "画面が使いにくかったし、動きも遅かった。"
    # 使いにくかった / 遅かった are inflected: only their base forms (from janome) match the catalogue.
    assert themes_of(comment, tokenizer.words(comment), catalogue=CATALOGUE) == ["usability", "performance"]


def test_an_inflected_adjective_matches_only_through_its_base_form() -> None:
    assert themes_of("動きが遅かった", [], catalogue=CATALOGUE) == []
    assert themes_of("動きが遅かった", ["遅い"], catalogue=CATALOGUE) == ["performance"]


def test_an_english_comment_matches_case_insensitively(tokenizer: JanomeTokenizer) -> None:
    comment = "The new UI is Confusing and reports are SLOW."
    assert themes_of(comment, tokenizer.words(comment), catalogue=CATALOGUE) == ["usability", "performance"]


def test_a_word_inside_a_compound_still_matches_its_theme() -> None:
    assert themes_of("初期設定が大変", [], catalogue=CATALOGUE) == ["onboarding"]


def test_a_comment_on_nothing_in_the_catalogue_has_no_theme(tokenizer: JanomeTokenizer) -> None:
    assert themes_of("ありがとう", tokenizer.words("ありがとう"), catalogue=CATALOGUE) == []


def test_the_shipped_catalogue_loads_and_a_malformed_one_is_refused_naming_the_theme() -> None:
    assert "usability" in load_catalogue()
    with pytest.raises(ValueError, match="theme 'price'"):
        parse_catalogue({"price": []}, source="themes.yaml")
    with pytest.raises(ValueError, match=r"themes\.yaml: must map"):
        parse_catalogue(["usability"], source="themes.yaml")


def said(days: int, survey: str, score: int | None = None, *features: str) -> Said:
    return Said(at=NOW - timedelta(days=days), survey=survey, score=score, features=features)


def test_a_detractor_naming_a_feature_useful_is_value_not_realised() -> None:
    flag = value_not_realised([said(10, "nps", 4), said(30, "feature_usefulness", None, "reports", "alerts")], now=NOW)
    assert flag is not None and flag.nps == 4 and flag.features == ("alerts", "reports")


@pytest.mark.parametrize(
    "answers",
    [
        [said(10, "nps", 7), said(30, "feature_usefulness", None, "reports")],  # a passive: not low
        [said(10, "nps", 3)],  # low, but no feature named useful
        [said(10, "feature_usefulness", None, "reports")],  # no NPS at all
        [said(200, "nps", 3), said(30, "feature_usefulness", None, "reports")],  # the NPS is too old
        [said(30, "nps", 3), said(5, "nps", 9), said(20, "feature_usefulness", None, "reports")],  # NPS recovered
    ],
)
def test_no_flag_without_a_recent_low_nps_and_a_useful_feature(answers: list[Said]) -> None:
    assert value_not_realised(answers, now=NOW) is None


def test_the_latest_nps_decides_even_after_a_good_one() -> None:
    answers = [said(40, "nps", 10), said(5, "nps", 2), said(20, "feature_usefulness", None, "reports")]
    assert value_not_realised(answers, now=NOW) is not None
