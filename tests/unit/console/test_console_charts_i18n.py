from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from touchline.console import charts
from touchline.console.i18n import CatalogueError, load_catalogues, pick_locale, translator

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_a_sparkline_is_valid_svg_with_a_label_and_one_point_per_value() -> None:
    svg = charts.sparkline([40, 42, 38, 50], label="trend <A&B>")
    root = ET.fromstring(svg)
    assert root.get("aria-label") == "trend <A&B>"
    points = root.find("{http://www.w3.org/2000/svg}polyline") or root.find("polyline")
    assert points is not None and len(points.get("points", "").split()) == 4


def test_a_falling_sparkline_is_drawn_in_the_warning_colour() -> None:
    assert charts.BAND_COLOURS["action_required"] in charts.sparkline([80, 20])
    assert charts.BAND_COLOURS["good"] in charts.sparkline([20, 80])


def test_an_empty_sparkline_is_still_valid_svg() -> None:
    ET.fromstring(charts.sparkline([], label="none"))


def test_the_history_chart_marks_each_score_with_its_band_colour_and_escapes_text() -> None:
    points = [charts.Point(NOW - timedelta(days=d), s, b) for d, s, b in ((40, 80, "good"), (5, 20, "action_required"))]
    svg = charts.history_chart(points, start=NOW - timedelta(days=90), end=NOW, label="<x>", empty_text="none")
    ET.fromstring(svg)
    assert svg.count("<circle") == 2
    assert charts.BAND_COLOURS["action_required"] in svg and "&lt;x&gt;" in svg


def test_the_history_chart_says_so_when_there_is_no_score_in_the_period() -> None:
    svg = charts.history_chart([], start=NOW - timedelta(days=90), end=NOW, label="h", empty_text="no score yet")
    assert "no score yet" in svg and "<path" not in svg


def test_the_nps_chart_writes_each_period_score() -> None:
    svg = charts.nps_chart(
        [charts.NpsBar("2026-10", 3, 1, 1, 40.0), charts.NpsBar("2026-11", 0, 0, 0, None)], label="n"
    )
    ET.fromstring(svg)
    assert "+40" in svg and "2026-11" in svg


def test_both_catalogues_hold_the_same_keys() -> None:
    catalogues = load_catalogues()
    assert set(catalogues["ja"]) == set(catalogues["en"])


def test_a_key_missing_in_a_language_falls_back_to_english_then_to_the_default() -> None:
    t = translator({"en": {"a": "Hello {name}"}, "ja": {}}, "ja")
    assert t("a", name="Aiko") == "Hello Aiko"
    assert t("status.weird", default="weird") == "weird"
    assert t("nothing") == "nothing"


def test_a_catalogue_with_a_non_text_value_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text("a: {b: 3}")
    (tmp_path / "ja.yaml").write_text("a: {b: x}")
    with pytest.raises(CatalogueError, match=r"en.yaml: field 'a.b'"):
        load_catalogues(tmp_path)


@pytest.mark.parametrize(
    ("chosen", "profile", "accept", "expected"),
    [("en", "ja", "ja", "en"), (None, "en", "ja", "en"), (None, None, "fr, en;q=0.8", "en"), (None, None, "", "ja")],
)
def test_the_language_is_the_choice_then_the_profile_then_the_browser(
    chosen: str | None, profile: str | None, accept: str, expected: str
) -> None:
    assert pick_locale(chosen=chosen, user_locale=profile, accept_language=accept, default="ja") == expected


def _task_types(node: object) -> set[str]:
    """Every ``task: {type: ...}`` anywhere in a playbook definition."""
    found: set[str] = set()
    if isinstance(node, dict):
        task = node.get("task")
        if isinstance(task, dict) and isinstance(task.get("type"), str):
            found.add(task["type"])
        for value in node.values():
            found |= _task_types(value)
    elif isinstance(node, list):
        for value in node:
            found |= _task_types(value)
    return found


def test_every_task_type_a_shipped_playbook_opens_has_a_label_in_every_locale() -> None:
    playbooks = Path(__file__).parents[3] / "services" / "touch" / "config" / "playbooks"
    types = set().union(*(_task_types(yaml.safe_load(p.read_text())) for p in playbooks.glob("*.yaml")))
    assert "band_drop_call" in types and len(types) >= 10  # the walk finds the playbooks' tasks
    for locale, catalogue in load_catalogues().items():
        missing = sorted(t for t in types if f"task_type.{t}" not in catalogue)
        assert missing == [], f"{locale}: no label for task types {missing}"


def test_every_measure_of_the_shipped_scorecards_has_a_label_in_every_locale() -> None:
    path = Path(__file__).parents[3] / "services" / "health" / "scorecards" / "default.yaml"
    data = yaml.safe_load(path.read_text())
    names = {m["name"] for card in data["scorecards"] for m in card["measures"]}
    assert {"days_since_login", "nps"} <= names
    for locale, catalogue in load_catalogues().items():
        missing = sorted(n for n in names if f"measure.{n}" not in catalogue)
        assert missing == [], f"{locale}: no label for measures {missing}"
