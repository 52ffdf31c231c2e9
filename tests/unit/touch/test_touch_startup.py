"""Start-up and the timer loop's failure handling: bad config refuses to start; infrastructure errors retry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pydantic
import pytest

from touchline.shared.clock import SimulatedClock
from touchline.shared.settings import CommonSettings
from touchline.touch.adapters.config import ConfigError
from touchline.touch.main import build_app, cli, load_config
from touchline.touch.settings import CONFIG_DIR, TouchSettings
from touchline.touch.timers import TimerLoop


def test_the_shipped_configuration_loads_with_the_cap_and_thresholds_from_settings() -> None:
    config = load_config(TouchSettings(message_cap=3, message_cap_days=2, usage_decline_threshold=0.5))
    assert config.cap is not None and (config.cap.limit, config.cap.per.days) == (3, 2)
    assert config.thresholds.decline == 0.5
    assert load_config(TouchSettings(message_cap=0)).cap is None


def test_a_bad_tiers_file_and_a_missing_playbook_directory_stop_the_service_naming_both(tmp_path: Path) -> None:
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text("rules: []\n")
    settings = TouchSettings(tiers_file=tiers, playbooks_dir=tmp_path / "nowhere")
    with pytest.raises(ConfigError) as info:
        build_app(CommonSettings(env="test"), settings)
    assert f"{tiers}:1: (document): rules: at least one rule" in str(info.value)
    assert f"{tmp_path / 'nowhere'}: playbook directory not found" in str(info.value)


def test_the_cli_exits_1_on_invalid_configuration(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TOUCHLINE_TOUCH_PLAYBOOKS_DIR", str(tmp_path))
    (tmp_path / "x.yaml").write_text("name: x\n")
    monkeypatch.setenv("TOUCHLINE_TOUCH_TIERS_FILE", str(Path(CONFIG_DIR) / "tiers.yaml"))
    assert cli([]) == 1
    assert "invalid configuration" in capsys.readouterr().err


def loop_with(outcomes: list[object]) -> tuple[TimerLoop, asyncio.Event]:
    stop = asyncio.Event()
    loop = TimerLoop(
        engine=None,
        flows=None,
        clock=SimulatedClock(datetime(2030, 1, 1, tzinfo=UTC)),
        publisher=None,
        poll_seconds=0.01,
    )  # type: ignore[arg-type]

    async def fire_once() -> bool:
        if not outcomes:
            stop.set()
            return False
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return bool(outcome)

    loop.fire_once = fire_once  # type: ignore[method-assign]
    return loop, stop


async def test_the_timer_loop_retries_when_the_database_is_away() -> None:
    loop, stop = loop_with([True, ConnectionRefusedError("postgres down"), True, False])
    await asyncio.wait_for(loop.run(stop), timeout=10)
    assert stop.is_set()


async def test_the_timer_loop_stops_the_process_on_a_bug_rather_than_spinning() -> None:
    loop, stop = loop_with([KeyError("bug")])
    with pytest.raises(KeyError):
        await asyncio.wait_for(loop.run(stop), timeout=10)


def test_empty_config_paths_mean_the_shipped_files(monkeypatch) -> None:
    monkeypatch.setenv("TOUCHLINE_TOUCH_TIERS_FILE", "")
    monkeypatch.setenv("TOUCHLINE_TOUCH_PLAYBOOKS_DIR", "")
    settings = TouchSettings()
    assert settings.tiers_path() == Path(CONFIG_DIR) / "tiers.yaml"
    assert settings.playbooks_path() == Path(CONFIG_DIR) / "playbooks"


def test_daily_use_cannot_need_more_login_days_than_its_window() -> None:
    with pytest.raises(pydantic.ValidationError, match="daily_use_login_days"):
        TouchSettings(daily_use_login_days=15, daily_use_window_days=14)
    assert load_config(TouchSettings(recovery_days=3)).usage.recent_days == 3
