"""Port choice of the local stack: a second checkout's `make up` finds the defaults taken."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from touchline.console.settings import ConsoleSettings
from touchline.notify.settings import NotifySettings
from touchline.shared.stack import ports
from touchline.shared.stack.cli import DEFAULT_PORTS, SINK, choose_ports, stack_env
from touchline.shared.stack.layout import Layout

DEFAULTS = {"smtp-sink": 2525, "ingest": 8001, "notify": 8004}


def spares(*values: int) -> Iterator[int]:
    yield from values


def test_free_defaults_are_kept() -> None:
    chosen = ports.choose(DEFAULTS, keep={}, taken=lambda p: False, spare=lambda: pytest.fail("no spare needed"))
    assert chosen == DEFAULTS


def test_a_taken_default_gets_a_spare_port_and_the_others_keep_theirs() -> None:
    spare = spares(41001, 41002)
    chosen = ports.choose(DEFAULTS, keep={}, taken=lambda p: p in (2525, 8004), spare=lambda: next(spare))
    assert chosen == {"smtp-sink": 41001, "ingest": 8001, "notify": 41002}


def test_a_running_piece_keeps_its_port_even_though_it_is_taken_by_itself() -> None:
    held = {2525, 8001, 8004, 41002}
    chosen = ports.choose(
        DEFAULTS, keep={"notify": 41002}, taken=held.__contains__, spare=iter([41003, 41004]).__next__
    )
    assert chosen == {"smtp-sink": 41003, "ingest": 41004, "notify": 41002}


def test_two_names_never_share_a_port_and_a_taken_spare_is_skipped() -> None:
    spare = spares(8001, 41005, 41006, 41007)
    chosen = ports.choose(DEFAULTS, keep={}, taken=lambda p: p in (2525, 41005), spare=lambda: next(spare))
    assert chosen == {"smtp-sink": 41006, "ingest": 8001, "notify": 8004}


def test_no_free_port_at_all_stops_with_the_name() -> None:
    with pytest.raises(RuntimeError, match="no free port found for smtp-sink"):
        ports.choose(DEFAULTS, keep={}, taken=lambda p: True, spare=lambda: 41000)


def test_saved_ports_round_trip_and_a_broken_file_means_none(tmp_path: Path) -> None:
    path = tmp_path / "ports.json"
    ports.save(path, {"ingest": 41001})
    assert ports.load(path) == {"ingest": 41001}
    path.write_text("{not json")
    assert ports.load(path) == {}
    path.write_text('{"ingest": "8001", "notify": true, "touch": 41003}')
    assert ports.load(path) == {"touch": 41003}


def test_a_second_stack_chooses_around_ports_the_first_holds_and_saves_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from touchline.shared.stack import cli

    held = {2525, 8001, 8004}
    monkeypatch.setattr(cli, "port_open", lambda port: port in held)
    monkeypatch.setattr(cli, "free_port", iter([42001, 42002, 42003]).__next__)
    layout = Layout.at(tmp_path)
    chosen = choose_ports(layout)
    assert chosen == {**DEFAULT_PORTS, SINK: 42001, "ingest": 42002, "notify": 42003}
    assert ports.load(layout.ports_file) == chosen


def test_the_env_file_names_moved_services_for_the_console_notifys_links_and_the_simulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moved = {**DEFAULT_PORTS, SINK: 42001, "health": 42002, "notify": 42004}
    env = stack_env(kafka="127.0.0.1:1", database="postgresql+asyncpg://x", ports=moved)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notify, console = NotifySettings(), ConsoleSettings()
    assert (notify.smtp_port, notify.port, notify.public_url) == (42001, 42004, "http://127.0.0.1:42004")
    assert "http://127.0.0.1:42004" in notify.inapp_allowed_origins
    assert (console.health_url, console.notify_url) == ("http://127.0.0.1:42002", "http://127.0.0.1:42004")
    assert console.touch_url == ConsoleSettings.model_fields["touch_url"].default


def test_a_stack_on_its_default_ports_writes_only_what_it_always_did() -> None:
    env = stack_env(kafka="127.0.0.1:29092", database="postgresql+asyncpg://x")
    assert set(env) == {
        "TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS",
        "TOUCHLINE_DATABASE_URL",
        "TOUCHLINE_NOTIFY_SMTP_HOST",
        "TOUCHLINE_NOTIFY_SMTP_PORT",
    }


def test_make_up_moves_kafka_off_its_default_ports_when_another_stack_holds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from touchline.shared.stack import kafka

    layout = Layout.at(tmp_path)
    monkeypatch.setattr(kafka, "port_open", lambda port: False)
    assert kafka.ports_to_use(layout) == (kafka.DEFAULT_PORT, kafka.DEFAULT_CONTROLLER_PORT)
    monkeypatch.setattr(kafka, "port_open", lambda port: port == kafka.DEFAULT_PORT)
    monkeypatch.setattr(kafka, "free_port", iter([43001, 43002]).__next__)
    assert kafka.ports_to_use(layout) == (43001, 43002)


def test_make_up_starts_kafka_on_the_ports_it_chose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from touchline.shared.stack import cli

    started = {}
    monkeypatch.delenv("TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setattr(cli, "ports_to_use", lambda layout: (43001, 43002))
    monkeypatch.setattr(cli, "kafka_bootstrap", lambda layout: None)

    def start_kafka(home: Path, *, port: int, controller_port: int) -> str:
        started.update(port=port, controller_port=controller_port)
        return f"127.0.0.1:{port}"

    monkeypatch.setattr(cli, "start_kafka", start_kafka)
    assert cli._kafka(Layout.at(tmp_path)) == "127.0.0.1:43001"
    assert started == {"port": 43001, "controller_port": 43002}
