from pathlib import Path

import pytest

from touchline.health.adapters.scorecard_file import ScorecardFileError, load_scorecards

GOOD_MEASURE = """    measures:
      - name: logins
        group: engagement
        weight: 10
        source: {aggregate: login_days}
        scoring: {type: linear, from: [0, 0], to: [10, 100]}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cards.yaml"
    p.write_text(text)
    return p


def test_the_shipped_scorecards_are_valid_and_have_every_dear_group() -> None:
    cards = load_scorecards()
    default = cards.choose({})
    assert {m.group for m in default.measures} == {"deployment", "engagement", "adoption", "roi", "other"}


def test_a_bad_field_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    text = "scorecards:\n  - name: d\n    default: true\n" + GOOD_MEASURE.replace("weight: 10", "weight: -1")
    with pytest.raises(ScorecardFileError) as exc:
        load_scorecards(write(tmp_path, text))
    assert f"{tmp_path / 'cards.yaml'}:7: scorecards.0.measures.0.weight" in str(exc.value)


def test_an_unknown_aggregate_and_an_unknown_key_are_refused(tmp_path: Path) -> None:
    text = "scorecards:\n  - name: d\n    default: true\n    colour: red\n" + GOOD_MEASURE.replace(
        "login_days", "logins_typo"
    )
    with pytest.raises(ScorecardFileError) as exc:
        load_scorecards(write(tmp_path, text))
    assert ":4: scorecards.0.colour" in str(exc.value)
    assert "source.aggregate" in str(exc.value)


def test_exactly_one_default_scorecard_is_required(tmp_path: Path) -> None:
    with pytest.raises(ScorecardFileError, match="exactly one scorecard must have default"):
        load_scorecards(write(tmp_path, "scorecards:\n  - name: d\n" + GOOD_MEASURE))


def test_unordered_band_thresholds_are_refused(tmp_path: Path) -> None:
    text = (
        "scorecards:\n  - name: d\n    default: true\n    bands: {good: 50, healthy: 60, caution: 40}\n" + GOOD_MEASURE
    )
    with pytest.raises(ScorecardFileError, match=r":4: scorecards\.0\.bands"):
        load_scorecards(write(tmp_path, text))


def test_invalid_yaml_and_a_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ScorecardFileError, match="not valid YAML"):
        load_scorecards(write(tmp_path, "scorecards: [\n"))
    with pytest.raises(ScorecardFileError, match="cannot read"):
        load_scorecards(tmp_path / "missing.yaml")
