from pathlib import Path

import pytest

from touchline.health.adapters.scorecard_file import ScorecardFileError
from touchline.health.main import build_app, cli
from touchline.health.settings import HealthSettings
from touchline.shared.settings import CommonSettings


def test_validate_accepts_the_shipped_scorecards(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["validate"]) == 0
    assert "ok: default, enterprise" in capsys.readouterr().out


def test_validate_reports_a_broken_file_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cards.yaml"
    bad.write_text("scorecards:\n  - name: x\n    default: true\n    measures: []\n")
    assert cli(["validate", str(bad)]) == 1
    assert f"{bad}:4: scorecards.0.measures" in capsys.readouterr().err


def test_unknown_subcommands_and_bad_horizons_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["frobnicate"]) == 2
    with pytest.raises(SystemExit) as exc:
        cli(["trust", "--horizons", "thirty"])
    assert exc.value.code == 2 and "--horizons" in capsys.readouterr().err


def test_the_app_refuses_to_build_with_an_invalid_scorecard_file(tmp_path: Path) -> None:
    bad = tmp_path / "cards.yaml"
    bad.write_text("scorecards: {}\n")
    with pytest.raises(ScorecardFileError, match=r"cards\.yaml"):
        build_app(CommonSettings(env="test"), HealthSettings(scorecards_path=bad))


def test_settings_default_to_port_8002_and_read_the_health_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHLINE_HEALTH_MATERIAL_CHANGE", "7.5")
    settings = HealthSettings()
    assert settings.port == 8002 and settings.material_change == 7.5


def test_propose_weights_needs_a_scorecard_and_valid_horizons(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli(["propose-weights"])
    assert exc.value.code == 2 and "--scorecard" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli(["propose-weights", "--scorecard", "default", "--horizons", "30,0"])
    assert exc.value.code == 2 and "--horizons: comma-separated whole days from 1 to" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli(["propose-weights", "--scorecard", "default", "--min-outcomes", "1"])
    assert exc.value.code == 2 and "--min-outcomes: at least 2" in capsys.readouterr().err
